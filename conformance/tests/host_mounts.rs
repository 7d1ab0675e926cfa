//! The host's mount table is the host's: a container's mounts never show in
//! it, and a `create` that fails, at whatever step, leaves it as it was.
//!
//! The worst case is set up here: the test's directory is a shared mount (as
//! `/` is on systemd hosts, containerd's and Kubernetes' among them), the
//! rootfs is a mount point of its own (containerd's always is), the config
//! asks for `rshared` root propagation (Kubernetes pods may), and a host
//! directory is bind-mounted in. A mount made on a copy that stayed shared
//! with the host would propagate back; [`HostMounts`] compares the host's
//! mountinfo under the test's directory before and after.

use hull_conformance::*;
use serde_json::json;

/// A bundle in the worst case above; `SharedHost` must outlive the test's
/// containers (declare it after the World).
fn shared_host_bundle(w: &World, args: &[&str]) -> (SharedHost, Bundle) {
    let shared = SharedHost::new(&w.dir);
    let mut b = w.bundle("b", args);
    let vol = w.dir.join("vol");
    std::fs::create_dir_all(&vol).expect("mkdir vol");
    b.config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(json!({ "destination": "/vol", "type": "bind",
                      "source": vol, "options": ["rbind"] }));
    b.config["linux"]["rootfsPropagation"] = json!("rshared");
    b.save();
    overlay_rootfs(&b);
    (shared, b)
}

/// `create` of the worst-case bundle, edited by `edit`, fails naming
/// `needle` and leaves the host's mounts as they were.
fn fails_without_leaking(tag: &str, flags: &[&str], needle: &str, edit: impl FnOnce(&mut Bundle)) {
    let w = World::new(tag);
    let (_shared, mut b) = shared_host_bundle(&w, &["true"]);
    edit(&mut b);
    b.save();
    assert_create_with_fails_cleanly(&w, &b, flags, needle);
}

fn push_mount(b: &mut Bundle, m: serde_json::Value) {
    b.config["mounts"].as_array_mut().expect("mounts").push(m);
}

/// critest's finding: with `rshared` and a rootfs that is a mount point,
/// the rootfs mount itself stayed shared, pivot_root failed (EINVAL: a new
/// root under a shared mount), and every mount made on the rootfs had
/// propagated into the host (35 under containerd). runc makes the rootfs
/// mount private first; so does hull.
#[test]
fn rshared_root_propagation_on_a_rootfs_mount_point_works_and_leaks_nothing() {
    let w = World::new("leak-rshared");
    let (_shared, b) = shared_host_bundle(
        &w,
        &["awk", "$5 == \"/\" { print }", "/proc/self/mountinfo"],
    );
    let before = HostMounts::under(&w.dir);
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    assert!(
        stdout(&o).contains(" shared:"),
        "/ is not shared: {}",
        stdout(&o)
    );
    before.assert_unchanged("after run");

    let o = w.rt(&["create", "--bundle", b.path(), "c2"]);
    assert!(o.status.success(), "create: {}", stderr(&o));
    before.assert_unchanged("while the container exists");
    assert!(w.rt(&["delete", "--force", "c2"]).status.success());
    before.assert_unchanged("after delete");
}

#[test]
fn failed_create_leaks_no_mount_bad_mount() {
    fails_without_leaking("leak-mount", &[], "/x", |b| {
        push_mount(
            b,
            json!({ "destination": "/x", "type": "nosuchfs", "source": "none" }),
        )
    });
}

#[test]
fn failed_create_leaks_no_mount_missing_bind_source() {
    fails_without_leaking("leak-bind", &[], "no-such-source", |b| {
        push_mount(
            b,
            json!({ "destination": "/y", "type": "bind",
                    "source": "/no-such-source", "options": ["rbind"] }),
        )
    });
}

#[test]
fn failed_create_leaks_no_mount_bad_root_propagation() {
    fails_without_leaking("leak-prop", &[], "bogus", |b| {
        b.config["linux"]["rootfsPropagation"] = json!("bogus");
    });
}

#[test]
fn failed_create_leaks_no_mount_bad_device() {
    fails_without_leaking("leak-dev", &[], "/dev/bad", |b| {
        b.config["linux"]["devices"] =
            json!([{ "path": "/dev/bad", "type": "c", "major": -1, "minor": 0 }]);
    });
}

#[test]
fn failed_create_leaks_no_mount_failing_hooks() {
    for (i, hook) in ["prestart", "createRuntime", "createContainer"]
        .into_iter()
        .enumerate()
    {
        fails_without_leaking(&format!("leak-hook{i}"), &[], hook, |b| {
            b.config["hooks"] = json!({ hook: [{ "path": "/bin/false" }] });
        });
    }
}

#[test]
fn failed_create_leaks_no_mount_cgroup_failure() {
    fails_without_leaking("leak-cgroup", &[], "cpuset", |b| {
        b.config["linux"]["resources"]["cpu"] = json!({ "cpus": "4096" });
    });
}

#[test]
fn failed_create_leaks_no_mount_seccomp_failure() {
    fails_without_leaking("leak-seccomp", &[], "seccomp", |b| {
        b.config["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_NOTIFY" });
    });
}

#[test]
fn failed_create_leaks_no_mount_cwd_not_a_directory() {
    // After pivot_root, masked paths and the read-only root.
    fails_without_leaking("leak-cwd", &[], "/etc/passwd", |b| {
        b.config["process"]["cwd"] = json!("/etc/passwd");
    });
}

#[test]
fn failed_create_leaks_no_mount_missing_program() {
    fails_without_leaking("leak-prog", &[], "/no/such/program", |b| {
        b.config["process"]["args"] = json!(["/no/such/program"]);
    });
}

#[test]
fn failed_create_leaks_no_mount_no_pivot() {
    fails_without_leaking("leak-nopivot", &["--no-pivot"], "/no/such/program", |b| {
        b.config["process"]["args"] = json!(["/no/such/program"]);
    });
}

/// pivot fails: with --no-pivot the rootfs is moved onto /, which the
/// kernel refuses (EINVAL) when / is shared and the tree holds an
/// unbindable mount.
#[test]
fn failed_create_leaks_no_mount_pivot_failure() {
    fails_without_leaking(
        "leak-pivot",
        &["--no-pivot"],
        "move the rootfs onto /",
        |b| {
            b.config["linux"]["rootfsPropagation"] = json!("shared");
            push_mount(
                b,
                json!({ "destination": "/unbindable", "type": "tmpfs", "source": "tmpfs",
                    "options": ["unbindable"] }),
            );
        },
    );
}

#[test]
fn failed_create_leaks_no_mount_pid_file_not_writable() {
    let w = World::new("leak-pidfile");
    let pid_file = w.dir.join("no-such-dir/pid");
    let pid_file = pid_file.to_string_lossy().into_owned();
    let (_shared, b) = shared_host_bundle(&w, &["true"]);
    assert_create_with_fails_cleanly(&w, &b, &["--pid-file", &pid_file], "no-such-dir");
}

#[test]
fn failed_create_leaks_no_mount_without_a_mount_namespace() {
    fails_without_leaking("leak-nomntns", &[], "createRuntime", |b| {
        b.config["linux"]["namespaces"] = json!([
            { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }
        ]);
        b.config["hooks"] = json!({ "createRuntime": [{ "path": "/bin/false" }] });
    });
}
