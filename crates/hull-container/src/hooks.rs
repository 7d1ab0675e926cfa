//! Running OCI hooks: the container state on stdin, `args` (args[0] is
//! argv[0]), `env` (and nothing else), and `timeout` in seconds.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// Runs `hooks` in order; the first failure stops the run. For prestart,
/// createRuntime, createContainer and startContainer, whose failure aborts
/// the operation.
pub fn run_all(kind: &'static str, hooks: &[Hook], state_json: &str) -> Result<()> {
    hooks.iter().try_for_each(|h| run_one(kind, h, state_json))
}

/// Runs every hook of `hooks` in order, also after one failed: for
/// poststart and poststop, whose errors the spec has the runtime log while
/// the operation goes on (config.md, "Posix-platform Hooks"). Returns the
/// failures, in order.
pub fn run_every(kind: &'static str, hooks: &[Hook], state_json: &str) -> Vec<Error> {
    hooks
        .iter()
        .filter_map(|h| run_one(kind, h, state_json).err())
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Hook {
        let mut h = Hook::default();
        h.set_path("/bin/sh".into());
        h.set_args(Some(vec!["sh".into(), "-c".into(), script.into()]));
        h
    }

    #[test]
    fn run_every_runs_every_hook_and_reports_each_failure() {
        let dir = std::env::temp_dir().join(format!("hull-hooks-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let log = dir.join("log");
        let hooks = [
            sh("exit 3"),
            sh(&format!("echo two >> {}", log.display())),
            sh("exit 4"),
            sh(&format!("echo four >> {}", log.display())),
        ];
        let failed: Vec<String> = run_every("poststop", &hooks, "{}")
            .iter()
            .map(ToString::to_string)
            .collect();
        let got = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(failed.len(), 2);
        assert_eq!(got, "two\nfour\n");
        assert!(failed[0].contains("poststop") && failed[0].contains("exit status 3"));
        // run_all stops at the first failure.
        assert!(run_all("prestart", &hooks, "{}").is_err());
    }
}
