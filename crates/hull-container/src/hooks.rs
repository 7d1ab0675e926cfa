//! Running OCI hooks: the container state on stdin, `args` (args[0] is
//! argv[0]), `env` (and nothing else), and `timeout` in seconds.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// Runs `hooks` in order; the first failure stops the run.
pub fn run_all(kind: &'static str, hooks: &[Hook], state_json: &str) -> Result<()> {
    hooks.iter().try_for_each(|h| run_one(kind, h, state_json))
}

fn run_one(kind: &'static str, hook: &Hook, state_json: &str) -> Result<()> {
    let fail = |why: String| Error::Hook {
        hook: kind,
        path: hook.path().clone(),
        why,
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((argv0, rest)) = args.split_first() {
            cmd.arg0(argv0).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot execute: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let status = match hook.timeout() {
        Some(t) if t <= 0 => return Err(fail(format!("timeout must be positive, got {t}"))),
        Some(t) => wait_with_timeout(&mut child, Duration::from_secs(t as u64))
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                fail(format!("timed out after {t}s"))
            })?,
        None => child.wait().map_err(|e| fail(e.to_string()))?,
    };
    if status.success() {
        return Ok(());
    }
    Err(fail(match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".into(),
    }))
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if start.elapsed() >= limit {
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
