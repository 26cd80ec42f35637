//! Kong's `file-log` plugin (priority 9): Kong's serialized entry of each request appended as
//! one JSON line to `path`, by one writer thread off the request path (a bounded queue: when
//! the disk falls behind, lines are dropped and counted, requests never wait); `reopen`
//! opens the file for every line, so a rotated file is followed.

use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Phases, Plugin, RequestState, Scope};
use crate::telemetry::access_log::AccessRecord;
use once_cell::sync::Lazy;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

/// Lines waiting for the writer at most.
const QUEUE: usize = 10_000;

/// Kong's `file-log` config.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileLogConfig {
    pub path: String,
    #[serde(default)]
    pub reopen: bool,
    #[serde(default)]
    pub custom_fields_by_lua: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A configured `file-log` instance.
#[derive(Debug)]
pub struct FileLog {
    path: Arc<str>,
    reopen: bool,
}

/// Refuses Lua fields (Kong runs them; Skyport does not run Lua).
pub fn no_lua_fields(
    fields: Option<&serde_json::Map<String, serde_json::Value>>,
    out: &mut FieldIssues,
) {
    if fields.is_some_and(|m| !m.is_empty()) {
        out.push((
            "custom_fields_by_lua".into(),
            "Lua functions are not supported by Skyport".into(),
        ));
    }
}

impl Factory for FileLog {
    type Spec = FileLogConfig;
    type Typed = ();

    fn check(spec: &FileLogConfig, _: &CheckCtx<'_>) -> Result<(), FieldIssues> {
        let mut out = Vec::new();
        // Kong's pattern: at least two characters, none of `*&%` or a backquote, no space at
        // either end.
        let bad = |c: char| matches!(c, '*' | '&' | '%' | '`');
        let end_ok = |c: Option<char>| c.is_some_and(|c| !c.is_whitespace());
        if spec.path.chars().count() < 2
            || spec.path.contains(bad)
            || !end_ok(spec.path.chars().next())
            || !end_ok(spec.path.chars().last())
        {
            out.push(("path".into(), "not a valid filename".into()));
        }
        no_lua_fields(spec.custom_fields_by_lua.as_ref(), &mut out);
        if out.is_empty() {
            Ok(())
        } else {
            Err(out)
        }
    }

    fn build(c: &Checked<FileLogConfig, ()>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        Arc::new(FileLog {
            path: c.spec.path.as_str().into(),
            reopen: c.spec.reopen,
        })
    }
}

/// One line for the writer.
struct Line {
    path: Arc<str>,
    reopen: bool,
    text: Vec<u8>,
}

/// Lines dropped because the writer fell behind.
pub static DROPPED: AtomicU64 = AtomicU64::new(0);

static WRITER: Lazy<Option<SyncSender<Line>>> = Lazy::new(|| {
    let (tx, rx) = sync_channel::<Line>(QUEUE);
    std::thread::Builder::new()
        .name("skyport-file-log".into())
        .spawn(move || {
            let mut open: HashMap<Arc<str>, std::fs::File> = HashMap::new();
            for line in rx {
                if line.reopen {
                    open.remove(&line.path);
                }
                let file = match open.entry(line.path.clone()) {
                    std::collections::hash_map::Entry::Occupied(f) => f.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        match std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&*line.path)
                        {
                            Ok(f) => v.insert(f),
                            Err(e) => {
                                tracing::warn!("file-log: cannot open {}: {e}", line.path);
                                continue;
                            }
                        }
                    }
                };
                if let Err(e) = file.write_all(&line.text) {
                    tracing::warn!("file-log: cannot write {}: {e}", line.path);
                    open.remove(&line.path);
                }
            }
        })
        .ok()
        .map(|_| tx)
});

impl Plugin for FileLog {
    fn name(&self) -> &'static str {
        "file-log"
    }

    fn phases(&self) -> Phases {
        Phases::LOG.with(Phases::KONG_LOG)
    }

    fn log(&self, r: &AccessRecord, _: &RequestState) {
        let (Some(entry), Some(tx)) = (r.kong_log, WRITER.as_ref()) else {
            return;
        };
        let mut text = Vec::with_capacity(entry.len() + 1);
        text.extend_from_slice(entry);
        text.push(b'\n');
        let line = Line {
            path: self.path.clone(),
            reopen: self.reopen,
            text,
        };
        if let Err(TrySendError::Full(_)) = tx.try_send(line) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("file-log: the writer fell behind, a line was dropped");
        }
    }
}
