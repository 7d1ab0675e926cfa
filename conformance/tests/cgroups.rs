//! Cgroups through the runtime on this host's layout (hybrid here; the pure
//! v2 suite is tests/v2): resources reach the kernel's files, limits hold,
//! pause/resume, update, events, ps, kill --all, and delete leaves no cgroup
//! in any hierarchy.

use std::path::PathBuf;
use std::time::Duration;

use hull_conformance::*;
use serde_json::json;

/// Every directory named `name` in any cgroup hierarchy (depth-limited).
fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name() == name {
                out.push(p.clone());
            }
            if depth < 4 {
                stack.push((p, depth + 1));
            }
        }
    }
    out
}

fn cgroup_file(name: &str, controller_file: &str) -> Option<String> {
    cgroup_dirs(name)
        .into_iter()
        .find_map(|d| std::fs::read_to_string(d.join(controller_file)).ok())
        .map(|s| s.trim().to_string())
}

fn v2_host() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

#[test]
fn cgroups_resources_reach_the_kernel_and_delete_removes_every_hierarchy() {
    if v2_host() {
        return; // tests/v2/hull-v2.sh covers pure v2
    }
    let w = World::new("cg-res");
    let mut b = w.bundle("b", &["sleep", "60"]);
    let cg = format!("hull-conf-cgres-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(cg);
    b.config["linux"]["resources"] = json!({
        "devices": [{ "allow": false, "access": "rwm" }],
        "memory": { "limit": 67108864 },
        "pids": { "limit": 32 },
        "cpu": { "quota": 20000, "period": 100000, "shares": 512 }
    });
    b.save();
    let o = w.rt(&["run", "-d", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        cgroup_file(&cg, "memory.limit_in_bytes").as_deref(),
        Some("67108864")
    );
    assert_eq!(cgroup_file(&cg, "pids.max").as_deref(), Some("32"));
    assert_eq!(
        cgroup_file(&cg, "cpu.cfs_quota_us").as_deref(),
        Some("20000")
    );
    assert_eq!(cgroup_file(&cg, "cpu.shares").as_deref(), Some("512"));

    // update, then events --stats shows the new limit.
    let o = w.rt_stdin(
        &["update", "--resources", "-", "c1"],
        Some(r#"{"memory":{"limit":50331648},"pids":{"limit":40}}"#),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        cgroup_file(&cg, "memory.limit_in_bytes").as_deref(),
        Some("50331648")
    );
    assert_eq!(cgroup_file(&cg, "pids.max").as_deref(), Some("40"));
    let o = w.rt(&["events", "--stats", "c1"]);
    let ev: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stats JSON");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 50331648);
    assert_eq!(ev["data"]["pids"]["limit"], 40);

    // ps lists the init's host pid.
    let pid = w.state("c1")["pid"].clone();
    let o = w.rt(&["ps", "--format", "json", "c1"]);
    let pids: serde_json::Value = serde_json::from_slice(&o.stdout).expect("ps JSON");
    assert!(
        pids.as_array().is_some_and(|a| a.contains(&pid)),
        "{pids} lacks {pid}"
    );

    assert!(w.rt(&["kill", "--all", "c1", "KILL"]).status.success());
    assert!(w.wait_status("c1", "stopped"));
    assert!(w.rt(&["delete", "c1"]).status.success());
    assert_eq!(
        cgroup_dirs(&cg),
        Vec::<PathBuf>::new(),
        "cgroups left behind"
    );
}

#[test]
fn cgroups_pause_stops_a_counter_and_resume_lets_it_go_on() {
    let w = World::new("cg-pause");
    let b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.01; done",
        ],
    );
    b.save();
    assert!(w
        .rt(&["run", "-d", "--bundle", b.path(), "c1"])
        .status
        .success());
    let count = || {
        std::fs::read_to_string(b.rootfs().join("count"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(w.rt(&["pause", "c1"]).status.success());
    assert_eq!(w.status("c1"), "paused");
    std::thread::sleep(Duration::from_millis(50));
    let frozen = count();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(count(), frozen, "the counter moved while paused");
    assert!(w.rt(&["resume", "c1"]).status.success());
    assert_eq!(w.status("c1"), "running");
    let mut moved = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(20));
        if count() > frozen {
            moved = true;
            break;
        }
    }
    assert!(moved, "the counter did not go on after resume");
}

#[test]
fn cgroups_pids_limit_stops_a_fork_loop() {
    let w = World::new("cg-pids");
    let mut b = w.bundle("b", &["probe", "forks", "10"]);
    b.config["linux"]["resources"]["pids"] = json!({ "limit": 5 });
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The probe itself is one of the five.
    assert_eq!(stdout(&o), "forked=4\n");
}

#[test]
fn cgroups_memory_limit_ooms_and_events_reports_it() {
    let w = World::new("cg-oom");
    let mut b = w.bundle("b", &["sleep", "60"]);
    b.config["linux"]["resources"]["memory"] = json!({ "limit": 16777216, "swap": 16777216 });
    b.save();
    assert!(w
        .rt(&["run", "-d", "--bundle", b.path(), "c1"])
        .status
        .success());
    let mut events = std::process::Command::new(runtime())
        .arg("--root")
        .arg(&w.root)
        .args(["events", "--interval", "100ms", "c1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("events");
    std::thread::sleep(Duration::from_millis(300));
    let o = w.rt(&[
        "exec",
        "c1",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(
        o.status.code(),
        Some(137),
        "the allocation was not OOM-killed: {}",
        stderr(&o)
    );
    std::thread::sleep(Duration::from_millis(500));
    let _ = events.kill();
    let out = events.wait_with_output().expect("events output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.contains("\"type\":\"oom\"")),
        "no oom event in: {text}"
    );
}

/// A resource whose controller the host lacks fails `create` with an error
/// naming the field, the controller and what was looked at (it used to end
/// in "(or no )"), and leaves no state and no cgroup behind.
#[test]
fn cgroups_missing_controller_error_names_the_controller_and_path() {
    let w = World::new("cg-missing");
    let cases = [
        (
            "hugetlb",
            json!({ "hugepageLimits": [{ "pageSize": "2MB", "limit": 4194304 }] }),
        ),
        ("net_cls", json!({ "network": { "classID": 1048577 } })),
    ];
    for (controller, resources) in cases {
        let host_has_it = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(" - cgroup ") && l.split(',').any(|o| o == controller));
        if host_has_it && !v2_host() {
            eprintln!("skipped {controller}: the host has it");
            continue;
        }
        let mut b = w.bundle(controller, &["true"]);
        b.config["linux"]["resources"] = resources;
        b.save();
        let o = w.rt(&["create", "--bundle", b.path(), controller]);
        assert!(!o.status.success(), "{controller}: create succeeded");
        let err = stderr(&o);
        assert!(!err.contains("(or no )"), "{err}");
        assert!(err.contains(controller), "{controller}: {err}");
        assert!(err.contains("/sys/fs/cgroup"), "no path looked at: {err}");
        assert!(w.root_is_empty(), "state left behind");
        let name = b.config["linux"]["cgroupsPath"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(cgroup_dirs(&name).is_empty(), "cgroup left behind");
    }
}
