//! Error-log volume under faults: each place in the code that logs (a callsite: file and line,
//! also for Pingora's `log` records) may write a few lines per second; the rest of that second
//! is counted and reported as one summary line when the callsite next logs.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, Layer};

/// Lines a callsite may write per window before the rest are counted instead.
pub const BURST: u32 = 5;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Callsites tracked at once (a program has a bounded number; this bounds the map anyway).
const MAX_CALLSITES: usize = 4096;

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    written: u32,
    suppressed: u64,
}

/// A layer that drops repeated lines from a busy callsite (levels WARN and above; quieter
/// levels are for debugging and pass untouched).
#[derive(Default)]
pub struct Throttle {
    windows: Mutex<HashMap<(u64, u32), Window>>,
}

/// What to do with one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Write,
    /// Write it, after a summary of this many lines dropped in the window before.
    WriteAfter(u64),
    Drop,
}

impl Throttle {
    /// Decides for one line from `callsite` (a hash of its file, its line) at `now`.
    pub fn check(&self, callsite: (u64, u32), now: Instant) -> Verdict {
        let Ok(mut windows) = self.windows.lock() else {
            return Verdict::Write;
        };
        if windows.len() >= MAX_CALLSITES && !windows.contains_key(&callsite) {
            windows.clear();
        }
        let w = windows.entry(callsite).or_insert(Window {
            started: now,
            written: 0,
            suppressed: 0,
        });
        if now.duration_since(w.started) >= WINDOW {
            let dropped = w.suppressed;
            *w = Window {
                started: now,
                written: 1,
                suppressed: 0,
            };
            return if dropped > 0 {
                Verdict::WriteAfter(dropped)
            } else {
                Verdict::Write
            };
        }
        if w.written < BURST {
            w.written += 1;
            Verdict::Write
        } else {
            w.suppressed += 1;
            Verdict::Drop
        }
    }
}

impl<S: Subscriber> Layer<S> for Throttle {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if *meta.level() > Level::WARN {
            return true;
        }
        let file = meta.file().unwrap_or_else(|| meta.target());
        let line = meta.line().unwrap_or(0);
        let file_hash = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = foldhash::fast::FixedState::default().build_hasher();
            h.write(file.as_bytes());
            h.finish()
        };
        match self.check((file_hash, line), Instant::now()) {
            Verdict::Write => true,
            Verdict::Drop => false,
            Verdict::WriteAfter(dropped) => {
                // A nested tracing event would be dropped by the dispatcher: write directly.
                let _ = writeln!(
                    std::io::stderr(),
                    "{}  WARN skyport::telemetry: {dropped} more lines from {} ({file}:{line}) \
                     were not written in the last {} s",
                    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
                        .format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                    meta.target(),
                    WINDOW.as_secs()
                );
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_and_summarized_in_the_next_window() {
        let t = Throttle::default();
        let start = Instant::now();
        let site = (1, 1);
        for _ in 0..BURST {
            assert_eq!(t.check(site, start), Verdict::Write);
        }
        for _ in 0..100 {
            assert_eq!(
                t.check(site, start + Duration::from_millis(500)),
                Verdict::Drop
            );
        }
        // Another callsite is unaffected.
        assert_eq!(t.check((2, 2), start), Verdict::Write);
        assert_eq!(t.check(site, start + WINDOW), Verdict::WriteAfter(100));
        assert_eq!(t.check(site, start + WINDOW), Verdict::Write);
    }
}
