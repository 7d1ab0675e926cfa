//! A default container (the config `spec` writes) cannot reach the host:
//! no mount, reboot, clock change, module load, namespace escape, no host
//! process to ptrace, kernel knobs, or host fds.

use hull_conformance::*;

/// A bundle with the runtime's own default config (`spec`), no terminal.
fn default_bundle(w: &World, args: &[&str]) -> Bundle {
    let mut b = w.bundle("b", args);
    let _ = std::fs::remove_file(b.dir.join("config.json"));
    let o = std::process::Command::new(runtime())
        .args(["spec", "--bundle", b.path()])
        .output()
        .expect("spec");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(b.dir.join("config.json")).expect("config");
    let mut config: serde_json::Value = serde_json::from_str(&text).expect("json");
    config["process"]["terminal"] = serde_json::json!(false);
    config["process"]["args"] = serde_json::json!(args);
    config["linux"]["cgroupsPath"] = b.config["linux"]["cgroupsPath"].clone();
    b.config = config;
    b.save();
    b
}

#[test]
fn security_default_container_cannot_use_privileged_operations() {
    let w = World::new("sec-ops");
    let ops = [
        "mount",
        "reboot",
        "settime",
        "init_module",
        "unshare",
        "chroot",
    ];
    let script = ops
        .iter()
        .map(|op| format!("echo {op} $(probe try {op})"))
        .collect::<Vec<_>>()
        .join("; ");
    let b = default_bundle(&w, &["sh", "-c", &script]);
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for op in ops {
        let line = out.lines().find(|l| l.starts_with(op)).unwrap_or("");
        assert!(line.contains("errno="), "{op} was allowed: {out}");
    }
}

#[test]
fn security_default_container_sees_no_host_process() {
    let w = World::new("sec-procs");
    let b = default_bundle(&w, &["sh", "-c", "ls /proc | grep -c '^[0-9]'"]);
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // sh, ls and grep: nothing of the host's to ptrace or signal.
    let n: u32 = stdout(&o).trim().parse().unwrap_or(99);
    assert!(n <= 3, "{n} processes visible");
}

#[test]
fn security_default_container_cannot_write_kernel_knobs() {
    let w = World::new("sec-knobs");
    let b = default_bundle(
        &w,
        &["sh", "-c", "probe write /proc/sysrq-trigger; probe write /proc/sys/kernel/core_pattern; probe write /sys/kernel/uevent_helper"],
    );
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for line in stdout(&o).lines() {
        assert!(
            line.starts_with("errno="),
            "a kernel knob was writable: {}",
            stdout(&o)
        );
    }
}

// runc's `spec` writes no seccomp profile, so runc fails this test; hull's
// writes its Docker-style default.
#[test]
fn security_default_container_runs_under_seccomp_with_no_host_fds() {
    let w = World::new("sec-seccomp");
    let b = default_bundle(
        &w,
        &[
            "sh",
            "-c",
            "probe report | grep -E '^(seccomp|no_new_privs)='; probe fds",
        ],
    );
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(report_value(&out, "seccomp").as_deref(), Some("2"), "{out}");
    assert_eq!(
        report_value(&out, "no_new_privs").as_deref(),
        Some("1"),
        "{out}"
    );
    assert_eq!(report_value(&out, "fds").as_deref(), Some("0,1,2"), "{out}");
}

#[test]
fn security_interpreter_proc_self_exe_cannot_reach_the_runtime_binary() {
    // CVE-2019-5736: a program whose interpreter is /proc/self/exe runs the
    // exec'ing process's own binary. With hull that is the sealed exec stub:
    // /proc/self/exe of the container process must never be the runtime.
    let w = World::new("sec-exe");
    let b = w.bundle(
        "b",
        &["sh", "-c", "readlink /proc/self/exe; readlink /proc/1/exe"],
    );
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runtime_path = std::fs::canonicalize(runtime()).unwrap_or_default();
    for line in stdout(&o).lines() {
        assert_ne!(std::path::Path::new(line), runtime_path, "{}", stdout(&o));
    }
    // An exec'd process whose image is the stub's parent-visible exe: the
    // init's exe is busybox, never hull.
    assert!(stdout(&o).contains("busybox"), "{}", stdout(&o));
}
