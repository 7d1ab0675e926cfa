//! Log lines as runc writes them (logrus): `time="…" level=error msg="…"`
//! in text, `{"level":"error","msg":"…","time":"…"}` in JSON, to stderr or
//! to `--log`. Scripts grep stderr for these, and containerd reports the
//! last `"level":"error"` line of its JSON log as the reason of a failure.
//! With `--log`, an error also goes to stderr as the bare message. Text
//! to a terminal is coloured (`ERRO[0000] …`), as logrus does.
//!
//! Debug lines cost one atomic load when `--debug` is off. With it on,
//! stderr is duplicated once (close-on-exec), so that the container's init,
//! forked from `create` and writing its own debug lines until its exec,
//! still reaches the caller's stderr after it moved its stdio to the
//! container's terminal.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// `--log-format`; runc's error for anything else.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "" | "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!("invalid log-format: {other}")),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    Debug,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    /// logrus's four-letter upper-case tag and ANSI colour for terminals.
    fn tag_and_colour(self) -> (&'static str, u8) {
        match self {
            Level::Debug => ("DEBU", 37),
            Level::Warning => ("WARN", 33),
            Level::Error => ("ERRO", 31),
        }
    }
}

enum Out {
    /// fd 2, or its close-on-exec duplicate when debugging.
    Stderr(Option<OwnedFd>),
    File(std::fs::File),
}

struct Sink {
    out: Out,
    format: Format,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();
/// Before `init` (bad global flags), runc logs text to stderr.
static DEFAULT: Sink = Sink {
    out: Out::Stderr(None),
    format: Format::Text,
    debug: false,
};

fn sink() -> &'static Sink {
    SINK.get().unwrap_or(&DEFAULT)
}

/// Sets the log up from the global flags. When `path` cannot be opened
/// the log stays on stderr, in `format`, and the error is runc's:
/// `open PATH: no such file or directory`.
pub fn init(format: Format, debug: bool, path: Option<&std::path::Path>) -> Result<(), String> {
    let opened = path.map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| {
                format!(
                    "open {}: {}",
                    p.display(),
                    hull_container::error::errno_text(&e)
                )
            })
    });
    let (out, result) = match opened {
        Some(Ok(file)) => (Out::File(file), Ok(())),
        Some(Err(e)) => (Out::Stderr(None), Err(e)),
        None => (Out::Stderr(debug.then(dup_stderr).flatten()), Ok(())),
    };
    let _ = SINK.set(Sink { out, format, debug });
    result
}

/// Routes the library's warnings and debug lines here.
pub fn connect_library() {
    hull_container::set_warn_sink(|m| write(Level::Warning, m));
    if sink().debug {
        hull_container::set_debug_sink(|m| write(Level::Debug, m));
    }
}

/// Above the numbers `--preserve-fds` hands on (3 and up), so that the copy
/// never takes the place of one the caller did not open; without room
/// there, debug lines go to fd 2.
const STDERR_COPY_MIN_FD: libc::c_int = 256;

fn dup_stderr() -> Option<OwnedFd> {
    // SAFETY: duplicating fd 2 into a new close-on-exec fd we then own.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, STDERR_COPY_MIN_FD) };
    // SAFETY: a new fd, owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A debug line, built only with `--debug`.
pub fn debug(msg: impl FnOnce() -> String) {
    if sink().debug {
        write(Level::Debug, &msg());
    }
}

/// Writes one line at `level` to the log.
pub fn write(level: Level, msg: &str) {
    let sink = sink();
    if level == Level::Debug && !sink.debug {
        return;
    }
    let line = match (&sink.out, sink.format) {
        (_, Format::Json) => json_line(level, msg),
        (Out::Stderr(fd), Format::Text) if is_terminal(stderr_fd(fd)) => coloured_line(level, msg),
        (_, Format::Text) => text_line(level, msg),
    };
    match &sink.out {
        Out::File(f) => {
            let mut f: &std::fs::File = f;
            let _ = f.write_all(line.as_bytes());
        }
        Out::Stderr(fd) => write_fd(stderr_fd(fd), line.as_bytes()),
    }
}

/// An error that ends the command: logged, and with `--log` also printed
/// bare to stderr, as runc does.
pub fn fatal(msg: &str) {
    write(Level::Error, msg);
    if matches!(sink().out, Out::File(_)) {
        let mut text = msg.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        write_fd(2, text.as_bytes());
    }
}

fn stderr_fd(fd: &Option<OwnedFd>) -> i32 {
    fd.as_ref().map_or(2, |f| f.as_raw_fd())
}

fn write_fd(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a live buffer to an fd we hold open.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

fn is_terminal(fd: i32) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

/// Now, as logrus prints it: RFC 3339 to the second, UTC.
fn now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let full = hull_container::status::rfc3339(t.as_secs() as i64, 0);
    format!("{}Z", &full[..19])
}

fn text_line(level: Level, msg: &str) -> String {
    format!(
        "time=\"{}\" level={} msg={}\n",
        now(),
        level.name(),
        quote_if_needed(msg)
    )
}

fn coloured_line(level: Level, msg: &str) -> String {
    let (tag, colour) = level.tag_and_colour();
    let msg = msg.strip_suffix('\n').unwrap_or(msg);
    // The seconds since start: hull's commands are short, always 0.
    format!("\x1b[{colour}m{tag}\x1b[0m[0000] {msg:<44} \n")
}

/// logrus's JSON line: keys sorted, `<`, `>` and `&` escaped as Go does.
fn json_line(level: Level, msg: &str) -> String {
    let msg = go_json_string(msg);
    format!(
        "{{\"level\":\"{}\",\"msg\":{msg},\"time\":\"{}\"}}\n",
        level.name(),
        now()
    )
}

fn go_json_string(s: &str) -> String {
    let text = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// logrus quotes a value unless it is only letters, digits and `-._/@^+`.
fn quote_if_needed(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if plain {
        s.to_string()
    } else {
        go_quote(s)
    }
}

/// Go's `%q` of a string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_quoted_as_logrus_quotes_them() {
        assert_eq!(
            quote_if_needed("plain-word_1.2/x@y^z+"),
            "plain-word_1.2/x@y^z+"
        );
        assert_eq!(
            quote_if_needed("container does not exist"),
            "\"container does not exist\""
        );
        assert_eq!(
            quote_if_needed("No help topic for 'foo'\n"),
            "\"No help topic for 'foo'\\n\""
        );
        assert_eq!(quote_if_needed("a\"b\\c\x01"), "\"a\\\"b\\\\c\\x01\"");
        assert_eq!(quote_if_needed(""), "\"\"");
    }

    #[test]
    fn json_lines_have_sorted_keys_and_go_escapes() {
        let line = json_line(Level::Error, "<- a & b");
        assert!(
            line.starts_with("{\"level\":\"error\",\"msg\":\"\\u003c- a \\u0026 b\",\"time\":\""),
            "{line}"
        );
        assert!(line.ends_with("Z\"}\n"), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["msg"], "<- a & b");
    }

    #[test]
    fn text_lines_have_time_level_and_msg() {
        let line = text_line(Level::Debug, "child process in init()");
        assert!(line.starts_with("time=\""), "{line}");
        assert!(
            line.ends_with("Z\" level=debug msg=\"child process in init()\"\n"),
            "{line}"
        );
        assert_eq!(now().len(), 20);
    }

    #[test]
    fn log_formats_are_text_or_json() {
        assert_eq!(Format::parse("json"), Ok(Format::Json));
        assert_eq!(Format::parse("text"), Ok(Format::Text));
        assert_eq!(
            Format::parse("xml"),
            Err("invalid log-format: xml".to_string())
        );
    }
}
