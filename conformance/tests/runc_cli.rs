//! runc's command line as clients and scripts see it, with real
//! containers: `events` lines, `--debug` lines, `exec` exit statuses,
//! `kill` with signal 0 and without a PID namespace, `list`/`state`/`ps`
//! output, `update` values and `checkpoint` path checks (runc's suite:
//! events.bats, debug.bats, exec.bats, kill.bats, list.bats, ps.bats).

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hull_conformance::*;
use serde_json::{json, Value};

/// A long-running runtime command (`events`), killed when dropped.
struct Running(Child);

impl Running {
    fn spawn(w: &World, args: &[&str]) -> Running {
        let child = Command::new(runtime())
            .arg("--root")
            .arg(&w.root)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the runtime");
        Running(child)
    }

    /// Waits up to `limit` for it to exit; its status and stdout.
    fn wait(&mut self, limit: Duration) -> Option<(std::process::ExitStatus, String)> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.0.try_wait() {
                let mut out = String::new();
                if let Some(mut s) = self.0.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                return Some((st, out));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_detached(w: &World, b: &Bundle, id: &str) {
    let o = w.rt(&["run", "-d", "--bundle", b.path(), id]);
    assert!(o.status.success(), "run {id}: {}", stderr(&o));
}

/// The keys of a JSON object in the order the text has them.
fn keys_in_order(text: &str, object: &Value) -> Vec<String> {
    let mut keys: Vec<(usize, String)> = object
        .as_object()
        .map(|m| {
            m.keys()
                .filter_map(|k| text.find(&format!("\"{k}\":")).map(|i| (i, k.clone())))
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

#[test]
fn events_lines_start_with_type_and_id_and_end_with_the_container() {
    let w = World::new("cli-events");
    let b = w.bundle("b", &["sleep", "60"]);
    b.save();
    run_detached(&w, &b, "c1");

    let o = w.rt(&["events", "--stats", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o);
    assert!(
        line.starts_with("{\"type\":\"stats\",\"id\":\"c1\",\"data\":{\"cpu\":"),
        "{line}"
    );
    let ev: Value = serde_json::from_str(&line).expect("stats JSON");
    // runc's stats document: its sections, in its order.
    assert_eq!(
        keys_in_order(&line, &ev["data"]),
        [
            "cpu",
            "cpuset",
            "memory",
            "pids",
            "blkio",
            "hugetlb",
            "intel_rdt",
            "network_interfaces"
        ]
    );
    assert!(
        ev["data"]["pids"]["current"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{ev}"
    );
    assert!(ev["data"]["network_interfaces"].is_null(), "{ev}");

    // The stream: a stats line per interval, and the end once the
    // container is gone.
    let mut events = Running::spawn(&w, &["events", "--interval", "100ms", "c1"]);
    std::thread::sleep(Duration::from_millis(450));
    assert!(w.rt(&["delete", "--force", "c1"]).status.success());
    let (status, out) = events
        .wait(Duration::from_secs(5))
        .expect("events ends with its container");
    assert!(status.success(), "{status}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "{out}");
    for l in lines {
        assert!(
            l.starts_with("{\"type\":\"stats\",\"id\":\"c1\",\"data\":"),
            "{l}"
        );
    }

    // A stopped container has no events.
    let b2 = w.bundle("b2", &["true"]);
    b2.save();
    run_detached(&w, &b2, "c2");
    assert!(w.wait_status("c2", "stopped"));
    let o = w.rt(&["events", "--stats", "c2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("container with id c2 is not running"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn debug_lines_go_to_stderr_or_to_the_log_as_runcs() {
    let w = World::new("cli-debug");
    let b = w.bundle("b", &["echo", "Hello World"]);
    b.save();
    let steps = [
        "nsexec container setup",
        "child process in init()",
        "init: closing the pipe to signal completion",
    ];

    let o = w.rt(&["--debug", "run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Hello World\n");
    let err = stderr(&o);
    assert!(err.contains(" level=debug msg="), "{err}");
    for s in steps {
        assert!(err.contains(s), "{s:?} in {err}");
    }

    // Without --debug: not one debug line.
    let o = w.rt(&["run", "--bundle", b.path(), "c2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("level=debug"), "{}", stderr(&o));

    for (format, marker) in [
        ("text", " level=debug msg="),
        ("json", "\"level\":\"debug\""),
    ] {
        let log = w.dir.join(format!("log.{format}"));
        let log_arg = log.to_str().unwrap_or_default();
        let id = format!("c-{format}");
        let o = w.rt(&[
            "--log",
            log_arg,
            "--log-format",
            format,
            "--debug",
            "run",
            "--bundle",
            b.path(),
            &id,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!stderr(&o).contains("level"), "{format}: {}", stderr(&o));
        let text = std::fs::read_to_string(&log).expect("log written");
        assert!(text.contains(marker), "{format}: {text}");
        for s in steps {
            assert!(text.contains(s), "{format}: {s:?} in {text}");
        }
        if format == "json" {
            for line in text.lines() {
                let v: Value = serde_json::from_str(line).expect("a JSON line");
                assert!(v["time"].is_string() && v["msg"].is_string(), "{line}");
            }
        }
    }

    // exec: the same, with its own last step.
    let b3 = w.bundle("b3", &["sleep", "60"]);
    b3.save();
    run_detached(&w, &b3, "c3");
    let o = w.rt(&["--debug", "exec", "c3", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for s in [
        "nsexec container setup",
        "child process in init()",
        "setns_init: about to exec",
    ] {
        assert!(err.contains(s), "{s:?} in {err}");
    }
}

#[test]
fn exec_failures_exit_255_and_the_process_status_passes_through() {
    let w = World::new("cli-exec");
    let b = w.bundle("b", &["sleep", "60"]);
    b.save();
    run_detached(&w, &b, "c1");
    assert_eq!(w.rt(&["exec", "c1", "false"]).status.code(), Some(1));
    assert_eq!(
        w.rt(&["exec", "c1", "sh", "-c", "exit 42"]).status.code(),
        Some(42)
    );
    for args in [
        &[
            "exec",
            "--pid-file",
            "/non-existent/directory",
            "c1",
            "true",
        ][..],
        &["exec", "c1", "no-such-binary"],
        &["exec", "no_such_container", "true"],
    ] {
        let o = w.rt(args);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("level=error msg=\"exec failed: "),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn kill_signal_zero_checks_that_the_container_runs() {
    let w = World::new("cli-kill0");
    let b = w.bundle("b", &["sleep", "60"]);
    b.save();
    run_detached(&w, &b, "c1");
    let o = w.rt(&["kill", "c1", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.status("c1"), "running");
    assert!(w.rt(&["kill", "-a", "c1", "0"]).status.success());
    assert!(w.rt(&["kill", "c1", "KILL"]).status.success());
    assert!(w.wait_status("c1", "stopped"));
    let o = w.rt(&["kill", "c1", "0"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("container not running"),
        "{}",
        stderr(&o)
    );
    // --all (obsolete in runc 1.4, still sent by containerd) is no error.
    let o = w.rt(&["kill", "-a", "c1", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn kill_sigkill_reaches_every_process_without_a_pid_namespace() {
    let w = World::new("cli-killall");
    let mut b = w.bundle("b", &["sleep", "60"]);
    let ns = b.config["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    b.config["linux"]["namespaces"] = json!(ns
        .into_iter()
        .filter(|n| n["type"] != "pid")
        .collect::<Vec<_>>());
    b.save();
    run_detached(&w, &b, "c1");
    for _ in 0..3 {
        let o = w.rt(&["exec", "-d", "c1", "sleep", "60"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = w.rt(&["ps", "--format", "json", "c1"]);
    let pids: Vec<i32> = serde_json::from_slice(&o.stdout).expect("ps JSON");
    assert_eq!(pids.len(), 4, "{pids:?}");
    assert!(w.rt(&["kill", "c1", "KILL"]).status.success());
    let end = Instant::now() + Duration::from_secs(5);
    let alive = |p: &i32| {
        std::path::Path::new(&format!("/proc/{p}/cmdline")).exists()
            && std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| !s.contains(") Z "))
    };
    while pids.iter().any(alive) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<&i32> = pids.iter().filter(|p| alive(p)).collect();
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(w.wait_status("c1", "stopped"));
}

#[test]
fn list_state_and_ps_print_as_runc_prints_them() {
    let w = World::new("cli-list");
    let b = w.bundle("b", &["sleep", "60"]);
    b.save();
    run_detached(&w, &b, "c1");
    let pid = w.state("c1")["pid"].as_i64().unwrap_or(0);

    // list: Go's tabwriter columns (at least 12 wide, 3 apart), the owner
    // of the state directory by name.
    let o = w.rt(&["list"]);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ID          PID         STATUS      BUNDLE"),
        "{text}"
    );
    assert!(
        lines[0].ends_with("CREATED                          OWNER"),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("c1          {pid:<12}running     ")),
        "{text}"
    );
    assert!(lines[1].ends_with("   root"), "{text}");
    assert_eq!(stdout(&w.rt(&["list", "-q"])), "c1\n");
    let o = w.rt(&["list", "--format", "json"]);
    let text = stdout(&o);
    assert!(text.ends_with("}]\n"), "{text}");
    let v: Value = serde_json::from_str(&text).expect("list JSON");
    assert_eq!(v[0]["owner"], "root");
    assert_eq!(
        keys_in_order(&text, &v[0]),
        [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner"
        ]
    );

    // state: indented, no final newline, owner empty (as runc's).
    let o = w.rt(&["state", "c1"]);
    let text = stdout(&o);
    assert!(text.starts_with("{\n  \"ociVersion\""), "{text}");
    assert!(text.ends_with("\n}"), "{text:?}");
    let v: Value = serde_json::from_str(&text).expect("state JSON");
    assert_eq!(v["owner"], "");

    // ps: a bare array of host PIDs, or ps(1)'s lines of the container.
    assert_eq!(
        stdout(&w.rt(&["ps", "--format", "json", "c1"])),
        format!("[{pid}]\n")
    );
    let o = w.rt(&["ps", "c1", "-o", "pid,comm"]);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("PID"), "{text}");
    assert!(
        lines[1].trim_start().starts_with(&format!("{pid} sleep")),
        "{text}"
    );
}

#[test]
fn update_takes_runcs_values() {
    let w = World::new("cli-update");
    let b = w.bundle("b", &["sleep", "60"]);
    b.save();
    run_detached(&w, &b, "c1");
    for args in [
        &["update", "--memory", "64m", "--memory-swap", "-1", "c1"][..],
        &["update", "--memory", "-1", "c1"],
        &["update", "--pids-limit", "-1", "c1"],
        &["update", "--pids-limit", "50", "c1"],
    ] {
        let o = w.rt(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = w.rt(&["events", "--stats", "c1"]);
    let ev: Value = serde_json::from_slice(&o.stdout).expect("stats JSON");
    assert_eq!(ev["data"]["pids"]["limit"], 50, "{ev}");
    let o = w.rt(&["update", "--memory", "lots", "c1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid value for memory: invalid size: 'lots'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn checkpoint_refuses_an_absolute_or_missing_parent_path() {
    let w = World::new("cli-ckpt");
    let b = w.bundle("b", &["sleep", "60"]);
    b.save();
    run_detached(&w, &b, "c1");
    let abs = w.dir.join("parent-dir");
    let images = w.dir.join("image-dir");
    for parent in [abs.to_str().unwrap_or_default(), "./parent-dir"] {
        let o = w.rt(&[
            "checkpoint",
            "--parent-path",
            parent,
            "--image-path",
            images.to_str().unwrap_or_default(),
            "c1",
        ]);
        assert_eq!(o.status.code(), Some(1), "{parent}");
        assert!(
            stderr(&o).contains("--parent-path"),
            "{parent}: {}",
            stderr(&o)
        );
    }
    assert_eq!(w.status("c1"), "running");
}
