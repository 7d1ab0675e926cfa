//! config-linux.md: namespaces, id mappings, devices, masked and read-only
//! paths, sysctl, the default /dev.

use hull_conformance::*;
use serde_json::json;

fn run_out(w: &World, b: &Bundle, id: &str) -> String {
    let o = w.rt(&["run", "--bundle", b.path(), id]);
    assert!(
        o.status.success(),
        "run {id}: {:?} {}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn linux_namespaces_new_ones_differ_from_the_host() {
    let w = World::new("ns-new");
    let mut b = w.bundle("b", &["probe", "report"]);
    b.config["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
        { "type": "mount" }, { "type": "cgroup" }
    ]);
    b.save();
    let r = run_out(&w, &b, "c1");
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let inside = report_value(&r, &format!("ns_{ns}")).unwrap_or_default();
        assert!(!inside.is_empty(), "{ns} missing");
        assert_ne!(inside, host_ns(ns), "{ns} namespace is the host's");
    }
    assert_eq!(
        report_value(&r, "ns_user"),
        Some(host_ns("user")),
        "no user namespace was asked"
    );
    assert_eq!(report_value(&r, "pid").as_deref(), Some("1"));
}

#[test]
fn linux_namespaces_path_joins_an_existing_namespace() {
    let w = World::new("ns-path");
    // A network namespace held by a process of the test's own (no
    // /run/netns mount is left behind).
    let mut holder = std::process::Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .expect("unshare --net");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = holder.id();
    let path = format!("/proc/{pid}/ns/net");
    let host = host_ns("net");
    let mut want = String::new();
    for _ in 0..200 {
        want = std::fs::read_link(&path)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if !want.is_empty() && want != host {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    if want.is_empty() || want == host {
        let _ = holder.kill();
        panic!("unshare did not make a network namespace");
    }
    let _holder = Kill(holder);
    let mut b = w.bundle("b", &["probe", "report"]);
    b.config["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "network", "path": path }, { "type": "mount" }, { "type": "uts" }
    ]);
    b.save();
    let r = run_out(&w, &b, "c1");
    assert_eq!(report_value(&r, "ns_net"), Some(want));
}

#[test]
fn linux_namespaces_path_of_the_wrong_type_fails_cleanly() {
    let w = World::new("ns-wrong");
    let mut b = w.bundle("b", &["true"]);
    b.config["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "network", "path": "/proc/self/ns/uts" }, { "type": "mount" }
    ]);
    b.save();
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("namespace"), "{}", stderr(&o));
    assert!(w.root_is_empty());
}

#[test]
fn linux_user_namespace_uid_and_gid_mappings() {
    let w = World::new("userns");
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u",
        ],
    );
    b.config["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "user" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }
    ]);
    b.config["linux"]["uidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config["linux"]["gidMappings"] =
        json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
    // sysfs cannot be mounted without a network namespace of its own.
    let mounts = b.config["mounts"].as_array_mut().expect("mounts");
    mounts.retain(|m| m["destination"] != "/sys");
    b.config["linux"]
        .as_object_mut()
        .expect("linux")
        .remove("resources");
    b.save();
    // The rootfs must belong to the mapped root, as with runc.
    let st = std::process::Command::new("chown")
        .args(["-R", "100000:200000"])
        .arg(b.rootfs())
        .status()
        .expect("chown");
    assert!(st.success());
    let out = run_out(&w, &b, "c1");
    let fields: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(fields[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(fields[1], ["0", "200000", "65536"], "{out}");
    assert_eq!(fields[2], ["0"], "{out}");
}

#[test]
fn linux_default_devices_exist_with_their_numbers() {
    let w = World::new("devices-default");
    let b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "for d in null zero full random urandom tty; do probe stat /dev/$d; done",
        ],
    );
    b.save();
    let out = run_out(&w, &b, "c1");
    let want = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0)];
    for (line, (ma, mi)) in out.lines().zip(want) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[0], "c", "{line}");
        assert_eq!(
            (f[2], f[3]),
            (ma.to_string().as_str(), mi.to_string().as_str()),
            "{line}"
        );
    }
    assert_eq!(out.lines().count(), 6, "{out}");
}

#[test]
fn linux_default_dev_symlinks() {
    let w = World::new("dev-links");
    let b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done",
        ],
    );
    b.save();
    let out = run_out(&w, &b, "c1");
    assert_eq!(
        out,
        "/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n"
    );
}

#[test]
fn linux_devices_are_created_with_type_numbers_and_mode() {
    let w = World::new("devices");
    let mut b = w.bundle("b", &["probe", "stat", "/dev/mydev"]);
    b.config["linux"]["devices"] = json!([
        { "path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 7, "gid": 8 }
    ]);
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "c 660 1 3 7 8\n");
}

#[test]
fn linux_masked_paths_cannot_be_read() {
    let w = World::new("masked");
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "wc -c < /proc/meminfo; ls /sys/firmware | wc -l",
        ],
    );
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .expect("maskedPaths")
        .push(json!("/proc/meminfo"));
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "0\n0\n");
}

#[test]
fn linux_readonly_paths_cannot_be_written() {
    let w = World::new("readonly");
    let b = w.bundle("b", &["probe", "write", "/proc/sys/kernel/domainname"]);
    b.save();
    assert_eq!(
        run_out(&w, &b, "c1").trim(),
        format!("errno={}", libc::EROFS)
    );
}

#[test]
fn linux_sysctl_is_applied_in_the_container() {
    let w = World::new("sysctl");
    let mut b = w.bundle(
        "b",
        &[
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/msgmax",
        ],
    );
    b.config["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1", "kernel.msgmax": "12345" });
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "1\n12345\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/msgmax").unwrap_or_default();
    assert_ne!(host.trim(), "12345", "the sysctl leaked to the host");
}

// runc 1.1.5 (Debian's) has no time namespace support and fails this test.
#[test]
fn linux_time_namespace_offsets() {
    let w = World::new("timens");
    let mut b = w.bundle("b", &["cut", "-d.", "-f1", "/proc/uptime"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("ns")
        .push(json!({ "type": "time" }));
    b.config["linux"]["timeOffsets"] = json!({ "boottime": { "secs": 864000, "nanosecs": 0 } });
    b.save();
    let inside: u64 = run_out(&w, &b, "c1").trim().parse().unwrap_or(0);
    let host: u64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split('.').next()?.parse().ok())
        .unwrap_or(0);
    assert!(inside >= host + 864000 - 5, "inside {inside}, host {host}");
}

#[test]
fn linux_no_host_fd_reaches_the_container() {
    let w = World::new("fds");
    let b = w.bundle("b", &["probe", "fds"]);
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "fds=0,1,2\n");
}

/// config-linux.md, rootfsPropagation: every value works and the container's
/// root mount has it ("unbindable" used to fail: / was made unbindable
/// before the rootfs was bound onto itself, and the bind got EINVAL).
#[test]
fn linux_rootfs_propagation_values_apply_to_the_root_mount() {
    let w = World::new("rootfs-prop");
    for (i, prop) in [
        "unbindable",
        "runbindable",
        "private",
        "rprivate",
        "slave",
        "rslave",
        "shared",
        "rshared",
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = w.bundle(
            &format!("b{i}"),
            &["awk", "$5 == \"/\" { print }", "/proc/self/mountinfo"],
        );
        b.config["linux"]["rootfsPropagation"] = json!(prop);
        b.save();
        let line = run_out(&w, &b, &format!("c{i}"));
        // The optional fields sit between the mount options and " - ".
        let fields = line
            .split(" - ")
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(6)
            .collect::<Vec<_>>();
        match prop {
            "unbindable" | "runbindable" => {
                assert!(fields.contains(&"unbindable"), "{prop}: {line}")
            }
            "shared" | "rshared" => {
                assert!(
                    fields.iter().any(|f| f.starts_with("shared:")),
                    "{prop}: {line}"
                )
            }
            _ => assert!(
                !fields
                    .iter()
                    .any(|f| f.starts_with("shared:") || *f == "unbindable"),
                "{prop}: {line}"
            ),
        }
        assert!(w.root_is_empty(), "{prop}: run left its state behind");
        assert!(
            mounts_under(&b.dir).is_empty(),
            "{prop}: mounts left behind"
        );
    }
}

/// config-linux.md, namespaces: a type left out of linux.namespaces is the
/// runtime's. Without "mount" the container shares the host's mount
/// namespace, chrooted into its rootfs as runc does it; its mounts are made
/// on the host (on a bind of the rootfs onto itself) and are gone after
/// delete, after a failed create, and after run; exec lands in the rootfs.
#[test]
fn linux_namespaces_without_mount_share_the_host_mount_namespace() {
    let w = World::new("ns-no-mnt");
    // These mounts are the host's: if the test fails half-way, detach what
    // is left before World removes the directory (deepest first).
    struct DetachUnder(std::path::PathBuf);
    impl Drop for DetachUnder {
        fn drop(&mut self) {
            for m in mounts_under(&self.0).iter().rev() {
                let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
    let _detach = DetachUnder(w.dir.clone());
    let no_mnt =
        json!([{ "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }]);
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/mnt; cat /marker; test -e /proc/self/ns",
        ],
    );
    std::fs::write(b.rootfs().join("marker"), "in the rootfs\n").expect("marker");
    b.config["linux"]["namespaces"] = no_mnt.clone();
    b.save();
    let out = run_out(&w, &b, "c1");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [host_ns("mnt").as_str(), "in the rootfs"],
        "{out}"
    );
    assert!(w.root_is_empty(), "run left its state behind");
    assert!(
        mounts_under(&b.dir).is_empty(),
        "run left mounts on the host"
    );

    // A create that fails after the mounts were made takes them away.
    let mut bad = w.bundle("bad", &["true"]);
    bad.config["linux"]["namespaces"] = no_mnt.clone();
    bad.config["hooks"] = json!({ "createRuntime": [{ "path": "/bin/false" }] });
    bad.save();
    let o = w.rt(&["create", "--bundle", bad.path(), "c2"]);
    assert!(!o.status.success(), "create with a failing hook succeeded");
    assert!(w.root_is_empty(), "failed create left its state behind");
    assert!(
        mounts_under(&bad.dir).is_empty(),
        "failed create left mounts"
    );

    // exec joins the container's root, delete unmounts.
    let mut long = w.bundle("long", &["sleep", "30"]);
    std::fs::write(long.rootfs().join("marker"), "long\n").expect("marker");
    long.config["linux"]["namespaces"] = no_mnt;
    long.save();
    let o = w.rt(&["create", "--bundle", long.path(), "c3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !mounts_under(&long.dir).is_empty(),
        "no mounts on the host?"
    );
    assert!(w.rt(&["start", "c3"]).status.success());
    let o = w.rt(&["exec", "c3", "cat", "/marker"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "long\n");
    let o = w.rt(&["delete", "--force", "c3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(mounts_under(&long.dir).is_empty(), "delete left mounts");
    assert!(w.root_is_empty(), "delete left its state behind");
}

// config-linux.md, cgroup namespace: the container sees its own cgroup as
// the root of every hierarchy, in /proc/self/cgroup and in its cgroup mount.
// hull's init joins its v1 cgroups late (after the first mounts, while
// create makes them): this holds only if it joins them before it unshares
// the cgroup namespace and mounts /sys/fs/cgroup.
#[test]
fn config_cgroup_namespace_is_rooted_at_the_container_cgroup() {
    let w = World::new("cgroupns");
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/cgroup; echo ---; \
             cat /sys/fs/cgroup/pids/tasks /sys/fs/cgroup/cgroup.procs 2>/dev/null | wc -l",
        ],
    );
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(json!({ "type": "cgroup" }));
    b.config["mounts"].as_array_mut().expect("mounts").push(
        json!({ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                      "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }),
    );
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let (cgroups, count) = out.split_once("---\n").unwrap_or((&out, ""));
    assert!(!cgroups.trim().is_empty(), "{out}");
    for line in cgroups.lines() {
        assert!(
            line.ends_with(":/"),
            "not at the namespace root: {line}\n{out}"
        );
    }
    // The cgroup mount shows the container's cgroup: its own processes
    // only (sh, cat, wc), not the test's.
    let n: u32 = count.trim().parse().unwrap_or(0);
    assert!(
        (1..=3).contains(&n),
        "{n} tasks in the container's cgroup: {out}"
    );
}
