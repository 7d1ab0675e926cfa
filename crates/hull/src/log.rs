//! `--log` and `--log-format`: runc's log lines. containerd reports the
//! last `"level":"error"` line of a JSON log as the reason of a failure.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Sink {
    file: Option<std::fs::File>,
    format: Format,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

pub fn init(path: Option<&std::path::Path>, format: Format, debug: bool) {
    let file = path.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let _ = SINK.set(Sink {
        file,
        format,
        debug,
    });
    hull_container::set_warn_sink(|m| write("warning", m));
}

fn now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hull_container::status::rfc3339(t.as_secs() as i64, t.subsec_nanos())
}

pub fn write(level: &str, msg: &str) {
    let Some(sink) = SINK.get() else {
        eprintln!("{msg}");
        return;
    };
    if level == "debug" && !sink.debug {
        return;
    }
    match (&sink.file, sink.format) {
        (Some(f), Format::Json) => {
            let mut f: &std::fs::File = f;
            let line = serde_json::json!({ "level": level, "msg": msg, "time": now() });
            let _ = writeln!(f, "{line}");
        }
        (Some(f), Format::Text) => {
            let mut f: &std::fs::File = f;
            let _ = writeln!(f, "time=\"{}\" level={level} msg={:?}", now(), msg);
        }
        (None, _) => {}
    }
    // Errors also go to stderr, as runc prints them.
    if level == "error" || sink.file.is_none() {
        eprintln!("{msg}");
    }
}
