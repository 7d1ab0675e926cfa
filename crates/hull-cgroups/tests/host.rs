//! Real-kernel tests on a cgroup v1 or hybrid host (skipped on pure v2,
//! where examples/v2_check.rs runs instead, see tests/v2/run-in-vm.sh (repo root)).

mod common;

use common::{proc_state, read, res, unique_path, wait_for, Guard};
use hull_cgroups::{detect, CgroupError, Layout, Manager};
use serde_json::json;
use std::path::Path;

fn v1_host() -> bool {
    let l = detect().expect("detect");
    if l == Layout::V2 {
        eprintln!(
            "pure cgroup v2 host: v1 tests skipped (run tests/v2/run-in-vm.sh (repo root) there)"
        );
        return false;
    }
    true
}

#[test]
fn detects_hybrid_and_resolves_paths() {
    if !v1_host() {
        return;
    }
    let unified = Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists();
    assert_eq!(
        detect().unwrap(),
        if unified { Layout::Hybrid } else { Layout::V1 }
    );

    let p = unique_path();
    let m = Manager::new(Some(&p), "x").unwrap();
    let paths = m.paths();
    assert_eq!(
        paths.v1_dir("memory").unwrap(),
        Path::new(&format!("/sys/fs/cgroup/memory{p}"))
    );
    assert_eq!(
        paths.v1_dir("name=systemd").unwrap(),
        Path::new(&format!("/sys/fs/cgroup/systemd{p}"))
    );
    if unified {
        assert_eq!(
            paths.unified.as_deref().unwrap(),
            Path::new(&format!("/sys/fs/cgroup/unified{p}"))
        );
    }
    // Relative and default paths go below our own cgroup, per hierarchy.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own_mem = own
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .unwrap();
    let m = Manager::new(None, "ctr1").unwrap();
    let want = format!(
        "/sys/fs/cgroup/memory{}/ctr1",
        own_mem.trim_end_matches('/')
    );
    assert_eq!(m.paths().v1_dir("memory").unwrap(), Path::new(&want));
    // CgroupPaths round-trips through JSON (state.json).
    let s = serde_json::to_string(m.paths()).unwrap();
    let back: hull_cgroups::CgroupPaths = serde_json::from_str(&s).unwrap();
    assert_eq!(&back, m.paths());

    assert!(matches!(
        Manager::new(Some("system.slice:hull:abc"), "x"),
        Err(CgroupError::Systemd(_))
    ));
    assert!(matches!(
        Manager::new(Some("/a/../b"), "x"),
        Err(CgroupError::BadPath(_))
    ));
}

#[test]
fn applies_resources_and_reads_them_back() {
    if !v1_host() {
        return;
    }
    let mut g = Guard::new();
    let p = g.paths();
    let i = g.spawn_gated("sleep 30");
    let r = res(json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swappiness": 10},
        "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rw"}
        ]
    }));
    g.mgr.apply(&r).unwrap();
    let mem = p.v1_dir("memory").unwrap();
    assert_eq!(read(mem, "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(mem, "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(read(mem, "memory.swappiness"), "10");
    assert_eq!(read(p.v1_dir("pids").unwrap(), "pids.max"), "20");
    let cpu = p.v1_dir("cpu").unwrap();
    assert_eq!(read(cpu, "cpu.shares"), "512");
    assert_eq!(read(cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(read(p.v1_dir("cpuset").unwrap(), "cpuset.cpus"), "0");
    assert_eq!(
        read(p.v1_dir("devices").unwrap(), "devices.list"),
        "c 1:3 rwm\nc 1:5 rw"
    );
    let pid = g.pid(i);
    assert!(g.mgr.pids().unwrap().contains(&pid));
    for d in p.dirs() {
        let procs = read(d, "cgroup.procs");
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{pid} not in {}",
            d.display()
        );
    }

    // memory: -1 lifts the limit again; swap with memsw only if the host accounts swap.
    g.mgr.apply(&res(json!({"memory": {"limit": -1}}))).unwrap();
    assert!(read(mem, "memory.limit_in_bytes").parse::<u64>().unwrap() > 1 << 40);
}

#[test]
fn devices_rules_take_effect() {
    if !v1_host() {
        return;
    }
    let mut g = Guard::new();
    let i = g.spawn_gated(
        "echo ok > /dev/null && head -c1 /dev/zero >/dev/null && exec head -c1 /dev/urandom",
    );
    g.mgr
        .apply(&res(json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}
        ]})))
        .unwrap();
    g.release(i);
    let out = g.children.remove(i).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "urandom must be denied");
    assert!(err.contains("Operation not permitted"), "stderr: {err}");
}

#[test]
fn pids_limit_stops_forks() {
    if !v1_host() {
        return;
    }
    let mut g = Guard::new();
    let i =
        g.spawn_gated("for n in 1 2 3 4 5 6 7 8 9 10; do sleep 10 >/dev/null 2>&1 & done; wait");
    g.mgr.apply(&res(json!({"pids": {"limit": 5}}))).unwrap();
    g.release(i);
    let out = g.children.remove(i).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "fork loop under pids.max=5 must fail"
    );
    assert!(err.to_lowercase().contains("fork"), "stderr: {err}");
    let st = g.mgr.stats().unwrap();
    assert_eq!(st.pids.limit, 5);
    assert!(st.pids.current <= 5);
}

#[test]
fn freeze_thaw_and_kill_all() {
    if !v1_host() {
        return;
    }
    let mut g = Guard::new();
    let a = g.spawn_gated("exec sleep 30");
    let b = g.spawn_gated("exec sleep 30");
    g.release(a);
    g.release(b);
    let pid = g.pid(a);
    wait_for(
        || {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim()
                == "sleep"
        },
        "exec sleep",
    );
    wait_for(|| proc_state(pid) == 'S', "sleeping");
    assert!(!g.mgr.is_frozen().unwrap());
    g.mgr.freeze().unwrap();
    assert!(g.mgr.is_frozen().unwrap());
    if let Some(f) = g.paths().v1_dir("freezer") {
        assert_eq!(read(f, "freezer.state"), "FROZEN");
    }
    // A frozen task is reported in D state (TASK_FROZEN), not S.
    assert_ne!(proc_state(pid), 'S');
    g.mgr.thaw().unwrap();
    assert!(!g.mgr.is_frozen().unwrap());
    wait_for(|| proc_state(pid) == 'S', "thawed task sleeping");

    assert_eq!(g.mgr.pids().unwrap().len(), 2);
    g.mgr.kill_all(libc::SIGKILL).unwrap();
    for c in &mut g.children {
        let st = c.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }
    g.children.clear();
    wait_for(|| g.mgr.pids().unwrap().is_empty(), "empty cgroup");
}

#[test]
fn stats_are_filled() {
    if !v1_host() {
        return;
    }
    let mut g = Guard::new();
    let i = g.spawn_gated("n=0; while [ $n -lt 30000 ]; do n=$((n+1)); done; exec sleep 30");
    g.mgr
        .apply(&res(
            json!({"memory": {"limit": 134217728}, "pids": {"limit": 50}}),
        ))
        .unwrap();
    g.release(i);
    let pid = g.pid(i);
    wait_for(
        || {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim()
                == "sleep"
        },
        "busy loop",
    );
    let s = g.mgr.stats().unwrap();
    assert!(s.cpu.usage.total > 0, "{s:?}");
    assert!(!s.cpu.usage.percpu.is_empty());
    assert!(s.cpu.usage.user + s.cpu.usage.kernel > 0, "{s:?}");
    assert!(s.memory.usage.usage > 0);
    assert_eq!(s.memory.usage.limit, 134217728);
    assert!(!s.memory.raw.is_empty());
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, 50);
    assert!(!s.cpuset.cpus.is_empty(), "{s:?}");
    // runc's document: its sections, what it omits when zero (throttling
    // without a quota, empty blkio lists) omitted.
    let j = serde_json::to_value(&s).unwrap();
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ] {
        assert!(j.get(key).is_some(), "{key} in {j}");
    }
    assert!(j["cpu"].get("throttling").is_none(), "{j}");
    assert!(j["memory"]["kernelTCP"].get("limit").is_some(), "{j}");
    assert_eq!(j["pids"]["limit"], 50);
}

#[test]
fn bad_values_are_rejected_with_the_field_named() {
    if !v1_host() {
        return;
    }
    let g = Guard::new();
    let cases = [
        (
            json!({"memory": {"limit": -5}}),
            "linux.resources.memory.limit",
        ),
        (json!({"pids": {"limit": -2}}), "linux.resources.pids.limit"),
        (json!({"cpu": {"quota": -7}}), "linux.resources.cpu.quota"),
        (
            json!({"memory": {"swappiness": 200}}),
            "linux.resources.memory.swappiness",
        ),
        (
            json!({"devices": [{"allow": true, "type": "c", "access": "rwx"}]}),
            "devices[].access",
        ),
        (
            json!({"devices": [{"allow": true, "type": "p", "access": "r"}]}),
            "devices[].type",
        ),
        (
            json!({"unified": {"memory.nonexistent": "1"}}),
            "linux.resources.unified",
        ),
    ];
    for (v, field) in cases {
        let e = g
            .mgr
            .apply(&res(v.clone()))
            .expect_err(&v.to_string())
            .to_string();
        assert!(e.contains(field), "{v}: {e}");
    }
    // A bad device rule is caught before anything is written.
    let dev = g.paths().v1_dir("devices").unwrap().to_path_buf();
    assert_eq!(read(&dev, "devices.list"), "a *:* rwm");

    // Controllers or files this host may lack give an error naming the field.
    let p = g.paths();
    let blk = p.v1_dir("blkio").unwrap();
    let r = g.mgr.apply(&res(json!({"blockIO": {"weight": 500}})));
    if blk.join("blkio.weight").exists() || blk.join("blkio.bfq.weight").exists() {
        r.unwrap();
    } else {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("linux.resources.blockIO.weight"), "{e}");
    }
    if p.v1_dir("hugetlb").is_none() {
        let e = g
            .mgr
            .apply(&res(
                json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 1048576}]}),
            ))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hugepageLimits") && e.contains("hugetlb"), "{e}");
    }
    if p.v1_dir("net_cls").is_none() {
        let e = g
            .mgr
            .apply(&res(json!({"network": {"classID": 1}})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("network.classID"), "{e}");
    }
}

#[test]
fn blkio_throttle_applies() {
    if !v1_host() {
        return;
    }
    let g = Guard::new();
    // Whole disks from /sys/block (blk-throttle refuses partitions).
    let disks: Vec<(i64, i64)> = std::fs::read_dir("/sys/block")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let s = std::fs::read_to_string(e.path().join("dev")).ok()?;
                    let (a, b) = s.trim().split_once(':')?;
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(&(maj, min)) = disks.iter().find(|(maj, _)| *maj != 7 && *maj != 1) else {
        eprintln!("no block device: throttle test skipped");
        return;
    };
    g.mgr
        .apply(&res(json!({"blockIO": {"throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}]}})))
        .unwrap();
    let got = read(
        g.paths().v1_dir("blkio").unwrap(),
        "blkio.throttle.read_bps_device",
    );
    assert_eq!(got, format!("{maj}:{min} 1048576"));
}

#[test]
fn destroy_removes_every_hierarchy_and_is_idempotent() {
    if !v1_host() {
        return;
    }
    let mut g = Guard::new();
    let p = g.paths();
    let name = p.v1_dir("memory").unwrap().file_name().unwrap().to_owned();
    g.spawn_gated("sleep 30");
    // A child cgroup (as a container with its own cgroup namespace might make).
    std::fs::create_dir(p.v1_dir("pids").unwrap().join("sub")).unwrap();
    assert!(p.dirs().iter().all(|d| d.is_dir()));
    g.mgr.destroy().unwrap();
    for c in &mut g.children {
        let _ = c.wait();
    }
    g.children.clear();
    for e in std::fs::read_dir("/sys/fs/cgroup").unwrap() {
        let d = e.unwrap().path().join(&name);
        assert!(!d.exists(), "{} left behind", d.display());
    }
    g.mgr.destroy().unwrap();
    // from_paths (state.json) finds the same cgroup.
    let m2 = Manager::from_paths(p.clone());
    assert_eq!(m2.paths(), &p);
    m2.destroy().unwrap();
}

#[test]
fn paused_container_is_killed_and_other_signals_keep_it_paused() {
    if !v1_host() {
        return;
    }
    let mut g = Guard::new();
    let a = g.spawn_gated("exec sleep 30");
    g.release(a);
    let pid = g.pid(a);
    wait_for(|| proc_state(pid) == 'S', "sleeping");
    g.mgr.freeze().unwrap();
    g.mgr.kill_all(libc::SIGCONT).unwrap();
    assert!(
        g.mgr.is_frozen().unwrap(),
        "a non-fatal signal must not resume"
    );
    g.mgr.kill_all(libc::SIGKILL).unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(g.children[a].wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(!g.mgr.is_frozen().unwrap());
    g.children.clear();
}
