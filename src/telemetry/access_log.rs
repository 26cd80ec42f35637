//! The structured access log: one JSON line per request, handed to a writer thread through a
//! bounded channel so the request never waits on disk. When the writer falls behind, lines
//! are dropped and counted rather than slowing traffic down.

use once_cell::sync::OnceCell;
use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

/// Lines that may wait for the writer.
const QUEUE: usize = 65_536;

/// One request as the access log records it (and as plugins' log phase sees it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccessRecord<'a> {
    /// When the line was made (HTTP date).
    pub time: String,
    /// The request id.
    pub request_id: &'a str,
    /// The client's address.
    pub client: Option<std::net::IpAddr>,
    /// The request method.
    pub method: &'a str,
    /// The request path as the client sent it.
    pub path: &'a str,
    /// The matched route's name or id ("" when none matched).
    pub route: &'a str,
    /// The route's service's name or id.
    pub service: &'a str,
    /// The authenticated consumer's username or id.
    pub consumer: Option<&'a str>,
    /// The correlation id (`correlation-id` plugin), when the route has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<&'a str>,
    /// The status sent (0 when none was).
    pub status: u16,
    /// Request body bytes read.
    pub request_bytes: usize,
    /// Response body bytes sent.
    pub response_bytes: usize,
    /// Milliseconds from the request's start to the log phase.
    pub latency_ms: f64,
    /// Milliseconds from the request's start until the upstream request began.
    pub upstream_latency_ms: Option<f64>,
    /// Milliseconds the upstream took to answer (request sent to response header).
    #[serde(skip)]
    pub upstream_wait_ms: Option<f64>,
    /// The answer came from the service (Kong's `source` label), not from the gateway.
    #[serde(skip)]
    pub from_service: bool,
    /// The service's name, else its host (Kong's `service` label).
    #[serde(skip)]
    pub kong_service: &'a str,
    /// Kong's serialized log entry, when a plugin of the chain sends it.
    #[serde(skip)]
    pub kong_log: Option<&'a [u8]>,
}

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
    pub fn write(&self, record: &AccessRecord<'_>) -> bool {
        let Ok(line) = serde_json::to_string(record) else {
            return true;
        };
        match self.sender.get_or_init(|| self.start()) {
            Some(tx) => !matches!(
                tx.try_send(line),
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_))
            ),
            None => true,
        }
    }
}
