//! config.md: root, mounts, process, hostname, hooks.

use hull_conformance::*;
use serde_json::json;

fn report(w: &World, b: &Bundle, id: &str) -> String {
    let o = w.rt(&["run", "--bundle", b.path(), id]);
    assert!(o.status.success(), "run {id}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn config_root_readonly_makes_the_root_read_only() {
    let w = World::new("root-ro");
    let mut b = w.bundle("b", &["probe", "write", "/newfile"]);
    b.config["root"]["readonly"] = json!(true);
    b.save();
    assert_eq!(
        report(&w, &b, "c1").trim(),
        format!("errno={}", libc::EROFS)
    );
}

#[test]
fn config_process_args_env_and_cwd() {
    let w = World::new("args-env-cwd");
    let mut b = w.bundle("b", &["sh", "-c", "echo \"$GREETING $0\"; pwd"]);
    b.config["process"]["env"] = json!(["PATH=/bin", "GREETING=hello"]);
    b.config["process"]["cwd"] = json!("/work/dir");
    b.save();
    assert_eq!(report(&w, &b, "c1"), "hello sh\n/work/dir\n");
}

#[test]
fn config_process_user_uid_gid_additional_gids_and_umask() {
    let w = World::new("user");
    let mut b = w.bundle("b", &["probe", "report"]);
    b.config["process"]["user"] =
        json!({ "uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 63 });
    b.save();
    let r = report(&w, &b, "c1");
    assert_eq!(report_value(&r, "uid").as_deref(), Some("1000"));
    assert_eq!(report_value(&r, "gid").as_deref(), Some("1001"));
    assert_eq!(report_value(&r, "groups").as_deref(), Some("5,7"));
    assert_eq!(report_value(&r, "umask").as_deref(), Some("0077"));
}

#[test]
fn config_process_rlimits_are_set() {
    let w = World::new("rlimits");
    let mut b = w.bundle("b", &["probe", "report"]);
    b.config["process"]["rlimits"] = json!([
        { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 768 },
        { "type": "RLIMIT_CORE", "soft": 0, "hard": 4096 }
    ]);
    b.save();
    let r = report(&w, &b, "c1");
    assert_eq!(
        report_value(&r, "RLIMIT_NOFILE").as_deref(),
        Some("512:768")
    );
    assert_eq!(report_value(&r, "RLIMIT_CORE").as_deref(), Some("0:4096"));
}

#[test]
fn config_process_capabilities_sets_are_exact() {
    let w = World::new("caps");
    let mut b = w.bundle("b", &["probe", "report"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_KILL", "CAP_CHOWN"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"]
    });
    b.save();
    let r = report(&w, &b, "c1");
    // CAP_CHOWN 0, CAP_KILL 5, CAP_NET_RAW 13.
    assert_eq!(
        report_value(&r, "cap_bnd").as_deref(),
        Some("0000000000002021")
    );
    assert_eq!(
        report_value(&r, "cap_eff").as_deref(),
        Some("0000000000000021")
    );
    assert_eq!(
        report_value(&r, "cap_prm").as_deref(),
        Some("0000000000000021")
    );
    assert_eq!(
        report_value(&r, "cap_inh").as_deref(),
        Some("0000000000000020")
    );
    assert_eq!(
        report_value(&r, "cap_amb").as_deref(),
        Some("0000000000000020")
    );
}

#[test]
fn config_process_no_new_privileges() {
    let w = World::new("nnp");
    for (id, nnp, want) in [("on", true, "1"), ("off", false, "0")] {
        let mut b = w.bundle(id, &["probe", "report"]);
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.save();
        let r = report(&w, &b, id);
        assert_eq!(report_value(&r, "no_new_privs").as_deref(), Some(want));
    }
}

#[test]
fn config_process_oom_score_adj() {
    let w = World::new("oom");
    let mut b = w.bundle("b", &["probe", "report"]);
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.save();
    let r = report(&w, &b, "c1");
    assert_eq!(report_value(&r, "oom_score_adj").as_deref(), Some("500"));
}

// runc 1.1.5 ignores domainname and fails this test.
#[test]
fn config_hostname_and_domainname() {
    let w = World::new("uts");
    let mut b = w.bundle("b", &["probe", "report"]);
    b.config["hostname"] = json!("box-one");
    b.config["domainname"] = json!("example.test");
    b.save();
    let r = report(&w, &b, "c1");
    assert_eq!(report_value(&r, "hostname").as_deref(), Some("box-one"));
    assert_eq!(
        report_value(&r, "domainname").as_deref(),
        Some("example.test")
    );
}

#[test]
fn config_mounts_are_made_in_order_with_their_options() {
    let w = World::new("mounts");
    let host_dir = w.dir.join("shared");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::write(host_dir.join("file"), "from the host\n").expect("write");
    let mut b = w.bundle("b", &["sh", "-c", "cat /data/file; grep -E ' /(data|scratch|scratch/inner) ' /proc/self/mountinfo | cut -d' ' -f5,6; probe write /data/file"]);
    let mounts = b.config["mounts"].as_array_mut().expect("mounts");
    mounts.push(json!({ "destination": "/data", "type": "bind", "source": host_dir, "options": ["rbind", "ro", "nosuid"] }));
    mounts.push(json!({ "destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "size=1m"] }));
    mounts.push(json!({ "destination": "/scratch/inner", "type": "tmpfs", "source": "tmpfs", "options": ["nodev"] }));
    b.save();
    let out = report(&w, &b, "c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "from the host");
    assert!(lines[1].starts_with("/data ro,nosuid"), "{out}");
    assert!(lines[2].starts_with("/scratch rw,noexec"), "{out}");
    assert!(
        lines[3].starts_with("/scratch/inner rw,nodev"),
        "the later mount must be on top: {out}"
    );
    assert_eq!(lines[4], format!("errno={}", libc::EROFS));
}

#[test]
fn config_hooks_run_in_order_with_the_state_on_stdin() {
    let w = World::new("hooks");
    let log = w.dir.join("hooks.log");
    let mut b = w.bundle("b", &["true"]);
    // startContainer runs inside the container: its /bin/sh is busybox, and
    // it logs to the container's own /start.log.
    b.config["hooks"] = logging_hooks("c1", &log);
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    assert!(w.rt(&["start", "c1"]).status.success());
    assert!(w.wait_status("c1", "stopped"));
    assert!(w.rt(&["delete", "c1"]).status.success());
    let got = std::fs::read_to_string(&log).unwrap_or_default();
    // startContainer ran in the container's mount namespace: its log line
    // went to the container's view of that path, not the host's.
    assert_eq!(got.lines().collect::<Vec<_>>(), HOST_HOOK_ORDER, "{got}");
    let inside = std::fs::read_to_string(b.rootfs().join("start.log")).unwrap_or_default();
    assert_eq!(inside, "startContainer\n");
}

#[test]
fn config_failing_prestart_hook_fails_create_and_leaves_nothing() {
    let w = World::new("hook-fail");
    let mut b = w.bundle("b", &["true"]);
    b.config["hooks"] = json!({ "prestart": [{ "path": "/bin/false" }] });
    b.save();
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    assert!(!o.status.success());
    // runc says "error running hook #0: ... exit status 1"; hull also
    // names the hook kind. Both name the hook.
    assert!(stderr(&o).contains("hook"), "{}", stderr(&o));
    assert!(w.root_is_empty(), "state left behind");
    assert!(mounts_under(&b.dir).is_empty(), "mounts left behind");
}

// runtime.md, lifecycle step 9: a failing poststart hook is logged and the
// lifecycle goes on. runc 1.1.5 fails this test: it runs poststart hooks at
// the end of `create` (before the program is started) and a failing one makes
// `create` fail, exit 1, "error running hook #0: error running hook: exit
// status 1". hull must not copy that.
#[test]
fn config_poststart_failure_is_only_a_warning() {
    let w = World::new("poststart-fail");
    let mut b = w.bundle("b", &["sleep", "30"]);
    b.config["hooks"] = json!({ "poststart": [{ "path": "/bin/false" }] });
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    let o = w.rt(&["start", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.status("c1"), "running");
}

// config.md, "Posix-platform Hooks": for poststart and poststop an error is
// logged and the operation continues, so the hooks after a failing one
// still run; `start` and `delete` succeed.
#[test]
fn config_failing_poststart_and_poststop_hooks_do_not_stop_the_next_ones() {
    let w = World::new("post-hooks-go-on");
    let log = w.dir.join("post.log");
    let mut b = w.bundle("b", &["sleep", "30"]);
    let append = |name: &str| json!({ "path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} >> {}", log.display())] });
    b.config["hooks"] = json!({
        "poststart": [append("poststart1"), { "path": "/bin/false" }, append("poststart2")],
        "poststop": [{ "path": "/bin/false" }, append("poststop1"),
                     { "path": "/nonexistent/hook" }, append("poststop2")]
    });
    b.save();
    assert!(w
        .rt(&["create", "--bundle", b.path(), "c1"])
        .status
        .success());
    let o = w.rt(&["start", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("poststart"),
        "no warning: {}",
        stderr(&o)
    );
    assert_eq!(w.status("c1"), "running");
    let o = w.rt(&["delete", "--force", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("poststop"),
        "no warning: {}",
        stderr(&o)
    );
    assert!(w.root_is_empty(), "state left behind");
    let got = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        ["poststart1", "poststart2", "poststop1", "poststop2"],
        "{got}"
    );
}

// runtime.md, State: "created" means the runtime has made the environment
// (after lifecycle step 2); prestart, createRuntime and createContainer are
// steps 3-5, so their state says "created", with the init's host pid. crun
// and runtime-tools' hooks_stdin agree; runc 1.1.5 says "creating".
#[test]
fn config_create_hooks_get_the_created_state_with_the_pid() {
    let w = World::new("hooks-state");
    let mut b = w.bundle("b", &["true"]);
    let save = |name: &str| {
        let to = w.dir.join(format!("{name}.json"));
        json!({ "path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", to.display())] })
    };
    b.config["hooks"] = json!({
        "prestart": [save("prestart")],
        "createRuntime": [save("createRuntime")],
        "createContainer": [save("createContainer")],
        "poststart": [save("poststart")],
        "poststop": [save("poststop")]
    });
    b.save();
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = w.state("c1")["pid"].as_i64().unwrap_or_default();
    let o = w.rt(&["start", "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.wait_status("c1", "stopped"));
    assert!(w.rt(&["delete", "c1"]).status.success());
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(w.dir.join(format!("{name}.json"))).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    };
    for (hook, status) in [
        ("prestart", "created"),
        ("createRuntime", "created"),
        ("createContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = read(hook);
        assert_eq!(s["status"], status, "{hook}: {s}");
        assert_eq!(s["id"], "c1", "{hook}: {s}");
        if hook != "poststop" {
            assert_eq!(s["pid"].as_i64(), Some(pid), "{hook}: {s}");
        }
    }
}
