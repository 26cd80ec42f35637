//! The structured access log: one JSON line per request, handed to a writer thread through a
//! bounded channel so the request never waits on disk. When the writer falls behind, lines
//! are dropped and counted rather than slowing traffic down.

use once_cell::sync::OnceCell;
use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

/// Lines that may wait for the writer.
const QUEUE: usize = 65_536;

/// Where access-log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// No access log.
    Off,
    /// Standard output.
    Stdout,
    /// Appended to a file.
    File(std::path::PathBuf),
}

impl Target {
    /// `off`, `stdout`, or a path.
    pub fn parse(s: &str) -> Target {
        match s.trim() {
            "" | "off" => Target::Off,
            "stdout" | "/dev/stdout" => Target::Stdout,
            p => Target::File(p.into()),
        }
    }
}

/// The access log of this process; the writer thread starts on first use (after any
/// daemon fork).
pub struct AccessLog {
    target: Target,
    sender: OnceCell<Option<SyncSender<String>>>,
}

impl AccessLog {
    /// An access log writing to `target`.
    pub fn new(target: Target) -> AccessLog {
        AccessLog {
            target,
            sender: OnceCell::new(),
        }
    }

    /// Whether lines are wanted at all (so callers can skip building them).
    pub fn enabled(&self) -> bool {
        self.target != Target::Off
    }

    fn start(&self) -> Option<SyncSender<String>> {
        let mut out: Box<dyn Write + Send> = match &self.target {
            Target::Off => return None,
            Target::Stdout => Box::new(std::io::stdout()),
            Target::File(p) => match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
            {
                Ok(f) => Box::new(std::io::BufWriter::new(f)),
                Err(e) => {
                    log::error!("access log {} cannot be opened: {e}", p.display());
                    return None;
                }
            },
        };
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || {
                while let Ok(line) = rx.recv() {
                    let _ = writeln!(out, "{line}");
                    // Flush when the queue is drained, so lines appear promptly under light load.
                    for l in rx.try_iter() {
                        let _ = writeln!(out, "{l}");
                    }
                    let _ = out.flush();
                }
            });
        spawned.ok().map(|_| tx)
    }

    /// Queues one line; returns false when it had to be dropped.
    pub fn write(&self, line: String) -> bool {
        match self.sender.get_or_init(|| self.start()) {
            Some(tx) => !matches!(
                tx.try_send(line),
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_))
            ),
            None => true,
        }
    }
}
