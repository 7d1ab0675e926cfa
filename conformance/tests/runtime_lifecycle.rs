//! runtime.md: the lifecycle, the state, and operations.

use hull_conformance::*;
use serde_json::json;

#[test]
fn runtime_create_does_not_run_the_program_until_start() {
    let w = World::new("create-start");
    let b = w.bundle("b", &["sh", "-c", "echo ran > /ran"]);
    b.save();
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.status("c1"), "created");
    assert!(
        !b.rootfs().join("ran").exists(),
        "the program ran before start"
    );
    let o = w.rt(&["start", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.wait_status("c1", "stopped"));
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("ran"))
            .ok()
            .as_deref(),
        Some("ran\n")
    );
}

#[test]
fn runtime_state_has_the_spec_fields() {
    let w = World::new("state");
    let mut b = w.bundle("b", &["sleep", "30"]);
    b.config["annotations"] = json!({ "org.example.key": "value" });
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    let s = w.state("c1");
    assert!(
        s["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{s}"
    );
    assert_eq!(s["id"], "c1");
    assert_eq!(s["status"], "created");
    assert!(s["pid"].as_i64().is_some_and(|p| p > 0), "{s}");
    let bundle = std::fs::canonicalize(&b.dir).expect("bundle path");
    assert_eq!(s["bundle"].as_str(), bundle.to_str());
    assert_eq!(s["annotations"]["org.example.key"], "value");
}

#[test]
fn runtime_status_goes_created_running_stopped() {
    let w = World::new("status");
    let b = w.bundle("b", &["sleep", "1"]);
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    assert_eq!(w.status("c1"), "created");
    assert!(w.rt(&["start", "c1"]).status.success());
    assert_eq!(w.status("c1"), "running");
    assert!(w.wait_status("c1", "stopped"));
    assert_eq!(w.state("c1")["pid"], 0, "a stopped container has no pid");
}

#[test]
fn runtime_kill_accepts_signal_names_with_and_without_sig_and_numbers() {
    let w = World::new("kill");
    let b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.05; done",
        ],
    );
    b.save();
    for (id, sig) in [("k1", "TERM"), ("k2", "SIGTERM"), ("k3", "15")] {
        assert!(w
            .rt(&["run", "-d", "--bundle", b.path(), id])
            .status
            .success());
        std::thread::sleep(std::time::Duration::from_millis(100));
        let o = w.rt(&["kill", id, sig]);
        assert!(o.status.success(), "kill {sig}: {}", stderr(&o));
        assert!(
            w.wait_status(id, "stopped"),
            "{sig} did not stop the container"
        );
    }
}

#[test]
fn runtime_kill_of_a_stopped_container_fails() {
    let w = World::new("kill-stopped");
    let b = w.bundle("b", &["true"]);
    b.save();
    assert!(w
        .rt(&["run", "-d", "--bundle", b.path(), "c1"])
        .status
        .success());
    assert!(w.wait_status("c1", "stopped"));
    let o = w.rt(&["kill", "c1", "KILL"]);
    assert!(!o.status.success());
}

#[test]
fn runtime_delete_removes_the_container() {
    let w = World::new("delete");
    let b = w.bundle("b", &["true"]);
    b.save();
    assert!(w
        .rt(&["run", "-d", "--bundle", b.path(), "c1"])
        .status
        .success());
    assert!(w.wait_status("c1", "stopped"));
    let o = w.rt(&["delete", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!w.rt(&["state", "c1"]).status.success());
    assert!(w.root_is_empty());
    assert!(mounts_under(&b.dir).is_empty());
}

// Deliberately not runtime.md's way ("deleting a container that is not
// stopped MUST generate an error"): runc and crun delete a created
// container, killing its waiting init, and Kubernetes relies on it (youki
// refused and broke its node tests). runtime-tools' `delete` fails here.
#[test]
fn runtime_delete_of_a_created_container_needs_no_force() {
    let w = World::new("delete-created");
    let b = w.bundle("b", &["sleep", "30"]);
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    let pid = w.state("c1")["pid"].as_i64().unwrap_or(0);
    let o = w.rt(&["delete", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/status")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            s.contains("State:\tZ")
        }
    );
}

#[test]
fn runtime_delete_of_a_running_container_fails_without_force() {
    let w = World::new("delete-running");
    let b = w.bundle("b", &["sleep", "30"]);
    b.save();
    assert!(w
        .rt(&["run", "-d", "--bundle", b.path(), "c1"])
        .status
        .success());
    assert!(!w.rt(&["delete", "c1"]).status.success());
    assert_eq!(w.status("c1"), "running");
    assert!(w.rt(&["delete", "--force", "c1"]).status.success());
    assert!(w.root_is_empty());
}

#[test]
fn runtime_operations_on_an_unknown_id_fail() {
    let w = World::new("unknown");
    for args in [
        &["state", "nope"][..],
        &["start", "nope"],
        &["kill", "nope", "KILL"],
        &["delete", "nope"],
    ] {
        let o = w.rt(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&o).contains("does not exist"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn runtime_create_with_an_existing_id_fails_and_keeps_the_first() {
    let w = World::new("exists");
    let b = w.bundle("b", &["sleep", "30"]);
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    let pid = w.state("c1")["pid"].clone();
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    assert!(!o.status.success());
    assert_eq!(w.state("c1")["pid"], pid);
    assert_eq!(w.status("c1"), "created");
}

#[test]
fn runtime_start_of_a_running_container_fails() {
    let w = World::new("start-twice");
    let b = w.bundle("b", &["sleep", "30"]);
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    assert!(w.rt(&["start", "c1"]).status.success());
    assert!(!w.rt(&["start", "c1"]).status.success());
}

#[test]
fn runtime_run_returns_the_exit_status_of_the_process() {
    let w = World::new("run-exit");
    let b = w.bundle("b", &["sh", "-c", "echo out; exit 3"]);
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stdout(&o), "out\n");
    assert!(w.root_is_empty(), "run leaves its container behind");
}

#[test]
fn runtime_pid_file_holds_the_init_pid() {
    let w = World::new("pidfile");
    let b = w.bundle("b", &["sleep", "30"]);
    b.save();
    let pidfile = w.dir.join("init.pid");
    let o = w.rt(&[
        "create",
        "--bundle",
        b.path(),
        "--pid-file",
        pidfile.to_str().unwrap_or(""),
        "c1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(pid_in_file(&pidfile), w.state("c1")["pid"]);
}

#[test]
fn runtime_exec_joins_the_container() {
    let w = World::new("exec");
    let b = w.bundle("b", &["sleep", "30"]);
    b.save();
    assert!(w
        .rt(&["run", "-d", "--bundle", b.path(), "c1"])
        .status
        .success());
    let o = w.rt(&["exec", "c1", "sh", "-c", "hostname; echo $$; exit 4"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("conformance"));
    let pid: i32 = lines.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    assert!(
        pid > 1 && pid < 100,
        "exec'd process not in the container's pid namespace: {pid}"
    );
}

// config.md: `process` is REQUIRED for start, optional for create. runc
// 1.1.5 refuses the create ("process property must not be empty"); hull
// follows the spec: create works, start fails naming "process", and the
// container is then deletable without --force.
#[test]
fn runtime_create_without_process_works_and_start_says_it_is_missing() {
    let w = World::new("no-process");
    let mut b = w.bundle("b", &["true"]);
    if let Some(o) = b.config.as_object_mut() {
        o.remove("process");
    }
    b.save();
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.status("c1"), "created");
    let o = w.rt(&["start", "c1"]);
    assert!(!o.status.success(), "start without a process succeeded");
    assert!(stderr(&o).contains("process"), "{}", stderr(&o));
    assert!(w.wait_status("c1", "stopped"), "{}", w.status("c1"));
    let o = w.rt(&["delete", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.root_is_empty(), "state left behind");
    assert!(mounts_under(&b.dir).is_empty(), "mounts left behind");
}

// runtime-tools' `pidfile` flow: create with --pid-file, start `true`, kill
// after it exited. runtime.md: kill of a container that is neither created
// nor running MUST fail; runc 1.1.5 on this host fails the same way with
// the same words ("container not running"), so hull keeps it.
#[test]
fn runtime_kill_after_the_program_exited_says_container_not_running() {
    let w = World::new("pidfile-kill");
    let b = w.bundle("b", &["true"]);
    b.save();
    let pidfile = w.dir.join("init.pid");
    let o = w.rt(&[
        "create",
        "--bundle",
        b.path(),
        "--pid-file",
        pidfile.to_str().unwrap_or(""),
        "c1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&pidfile).unwrap_or_default();
    assert_eq!(
        json!(text.trim().parse::<i64>().unwrap_or(-1)),
        w.state("c1")["pid"]
    );
    assert!(w.rt(&["start", "c1"]).status.success());
    assert!(w.wait_status("c1", "stopped"));
    let o = w.rt(&["kill", "c1", "KILL"]);
    assert!(!o.status.success(), "kill of a stopped container succeeded");
    assert!(
        stderr(&o).contains("container not running"),
        "{}",
        stderr(&o)
    );
    assert!(w.rt(&["delete", "c1"]).status.success());
    assert!(w.root_is_empty());
}

// `run` starts its init over the setup channel, not `start`'s socket: the
// hooks must still run, in order, with the state on stdin, and
// startContainer inside the container.
#[test]
fn runtime_run_runs_every_hook_in_order() {
    let w = World::new("run-hooks");
    let log = w.dir.join("hooks.log");
    let mut b = w.bundle("b", &["true"]);
    b.config["hooks"] = logging_hooks("c1", &log);
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(got.lines().collect::<Vec<_>>(), HOST_HOOK_ORDER, "{got}");
    let inside = std::fs::read_to_string(b.rootfs().join("start.log")).unwrap_or_default();
    assert_eq!(inside, "startContainer\n");
    assert!(w.root_is_empty(), "run leaves its container behind");
}

#[test]
fn runtime_run_with_a_failing_start_container_hook_fails_and_leaves_nothing() {
    let w = World::new("run-start-fail");
    let mut b = w.bundle("b", &["sh", "-c", "echo ran > /ran"]);
    b.config["hooks"] = json!({ "startContainer": [{ "path": "/bin/false" }] });
    b.save();
    let before = HostMounts::under(&w.dir);
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(!o.status.success(), "run with a failing hook succeeded");
    assert!(stderr(&o).contains("startContainer"), "{}", stderr(&o));
    assert!(!b.rootfs().join("ran").exists(), "the program ran");
    assert!(b.config["linux"]["cgroupsPath"].is_string());
    assert_nothing_left(&w, &b, &before);
}

#[test]
fn runtime_run_detached_leaves_the_container_running() {
    let w = World::new("run-detach");
    let b = w.bundle("b", &["sleep", "30"]);
    b.save();
    let pidfile = w.dir.join("run.pid");
    let o = w.rt(&[
        "run",
        "-d",
        "--bundle",
        b.path(),
        "--pid-file",
        pidfile.to_str().unwrap_or(""),
        "c1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let state = w.state("c1");
    assert_eq!(state["status"], "running");
    assert_eq!(pid_in_file(&pidfile), state["pid"]);
    assert!(w.rt(&["kill", "c1", "KILL"]).status.success());
    assert!(w.wait_status("c1", "stopped"));
    assert!(w.rt(&["delete", "c1"]).status.success());
    assert!(w.root_is_empty(), "state left behind");
}
