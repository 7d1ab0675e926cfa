//! runc's behaviour for mounts, masked paths and the cwd, as its
//! integration suite (mounts*.bats, mask.bats, no_pivot.bats, userns.bats,
//! cwd.bats, run.bats) and podman/containerd rely on it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hull_conformance::*;
use serde_json::{json, Value};

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

fn push_mount(b: &mut Bundle, m: Value) {
    b.config["mounts"].as_array_mut().expect("mounts").push(m);
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).expect("chown");
}

/// The options field of /proc/self/mounts for each of `dests`, one line each.
fn options_of(dests: &[&str]) -> String {
    dests
        .iter()
        .map(|d| format!("awk '$2 == \"{d}\" {{ print $4 }}' /proc/self/mounts"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// podman --read-only asks for `tmpcopyup` on /tmp: the tmpfs starts with
/// what the directory held (owner and mode kept), and what the container
/// writes there stays in the tmpfs.
#[test]
fn mounts_tmpcopyup_starts_the_tmpfs_with_the_mount_points_contents() {
    let w = World::new("tmpcopyup");
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "stat -c '%a %u' /data/dir /data/dir/file; cat /data/dir/file; readlink /data/link; \
             awk '$2 == \"/data\" { print $3 }' /proc/self/mounts; touch /data/new",
        ],
    );
    let data = b.rootfs().join("data");
    std::fs::create_dir_all(data.join("dir")).expect("mkdir");
    std::fs::write(data.join("dir/file"), "hello\n").expect("write");
    std::os::unix::fs::symlink("dir/file", data.join("link")).expect("symlink");
    chmod(&data.join("dir"), 0o751);
    chmod(&data.join("dir/file"), 0o644);
    chown(&data.join("dir/file"), 42, 42);
    push_mount(
        &mut b,
        json!({ "destination": "/data", "type": "tmpfs", "source": "tmpfs",
                "options": ["tmpcopyup", "nosuid"] }),
    );
    b.save();
    assert_eq!(
        run_out(&w, &b, "c1"),
        "751 0\n644 42\nhello\ndir/file\ntmpfs\n"
    );
    assert!(!data.join("new").exists(), "the write reached the image");
}

/// runc 1.2+: a tmpfs without `mode=` over an existing directory gets the
/// directory's mode (setuid/setgid/sticky bits too); `mode=` wins; over a
/// directory made for it, the tmpfs default (1777). The image is untouched.
#[test]
fn mounts_tmpfs_without_mode_takes_its_mount_points_mode() {
    let w = World::new("tmpfs-mode");
    let mut b = w.bundle("b", &["stat", "-c", "%a", "/t1", "/t2", "/t3", "/new/dir"]);
    for (dir, mode) in [("t1", 0o710), ("t2", 0o710), ("t3", 0o7777)] {
        let p = b.rootfs().join(dir);
        std::fs::create_dir(&p).expect("mkdir");
        chmod(&p, mode);
    }
    for (dest, options) in [
        ("/t1", json!(["nodev"])),
        ("/t2", json!(["nodev", "mode=1500"])),
        ("/t3", json!([])),
        ("/new/dir", json!(["nosuid"])),
    ] {
        push_mount(
            &mut b,
            json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options }),
        );
    }
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "710\n1500\n7777\n1777\n");
    let mode = |p: &str| {
        std::fs::metadata(b.rootfs().join(p))
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0)
    };
    assert_eq!(mode("t2"), 0o710, "the mount point was chmod-ed");
    assert_eq!(mode("new/dir"), 0o755);
}

/// `ro` on /dev (runc issue 3248): the tmpfs is read-only, and still has
/// the device nodes, which are made before it becomes read-only.
#[test]
fn mounts_read_only_dev_gets_its_devices_first() {
    let w = World::new("ro-dev");
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "awk '$2 == \"/dev\" { split($4, o, \",\"); print o[1] }' /proc/self/mounts; \
             test -c /dev/null && test -L /dev/fd && echo devices",
        ],
    );
    for m in b.config["mounts"].as_array_mut().expect("mounts") {
        if m["destination"] == "/dev" {
            m["options"]
                .as_array_mut()
                .expect("options")
                .push(json!("ro"));
        }
    }
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "ro\ndevices\n");
}

/// runc's bind semantics (mounts_sshfs.bats): with no flag, the source's
/// flags are kept; with any flag set or cleared, the bind is remounted with
/// exactly the flags set, so what is not asked for is cleared (`dev` alone
/// makes a ro,noexec,nosuid source rw, exec, suid).
#[test]
fn mounts_bind_options_are_exactly_the_flags_asked() {
    let w = World::new("bind-flags");
    let src = w.dir.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let _unmount = UnmountUnder(src.clone());
    let s = src.to_string_lossy().into_owned();
    // The flags on the mount, not on the superblock (a ro superblock stays ro).
    mount_cmd(&["-t", "tmpfs", "tmpfs", &s]);
    mount_cmd(&["-o", "remount,bind,ro,noexec,nosuid", &s]);
    let mut b = w.bundle("b", &["sh", "-c", &options_of(&["/m1", "/m2", "/m3"])]);
    for (dest, options) in [
        ("/m1", json!(["bind"])),
        ("/m2", json!(["bind", "dev"])),
        ("/m3", json!(["bind", "nodev"])),
    ] {
        push_mount(
            &mut b,
            json!({ "destination": dest, "type": "bind", "source": s, "options": options }),
        );
    }
    b.save();
    let out = run_out(&w, &b, "c1");
    let flags: Vec<Vec<&str>> = out.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(flags.len(), 3, "{out}");
    for f in ["ro", "nosuid", "noexec"] {
        assert!(flags[0].contains(&f), "/m1 lost {f}: {out}");
    }
    for f in ["nosuid", "nodev", "noexec"] {
        assert!(!flags[1].contains(&f), "/m2 kept {f}: {out}");
    }
    assert_eq!(flags[1][0], "rw", "{out}");
    assert_eq!(flags[2][0], "rw", "{out}");
    assert!(flags[2].contains(&"nodev"), "{out}");
    assert!(!flags[2].contains(&"noexec"), "{out}");
}

/// runtime-spec 1.1's recursive options reach the submounts of an rbind;
/// the r*atime family as runc reads it (`ratime`, `rnorelatime` and
/// `rnostrictatime` leave relatime).
#[test]
fn mounts_recursive_options_reach_every_submount() {
    let w = World::new("rec-opts");
    let vol = w.dir.join("vol");
    std::fs::create_dir_all(&vol).expect("mkdir");
    let _unmount = UnmountUnder(vol.clone());
    let v = vol.to_string_lossy().into_owned();
    mount_cmd(&["-t", "tmpfs", "-o", "strictatime", "tmpfs", &v]);
    std::fs::create_dir(vol.join("sub")).expect("mkdir sub");
    mount_cmd(&[
        "-t",
        "tmpfs",
        "-o",
        "strictatime",
        "tmpfs",
        &format!("{v}/sub"),
    ]);
    let cases = [
        ("/r1", "rro", "ro"),
        ("/r2", "rnoatime", "noatime"),
        ("/r3", "rnorelatime", "relatime"),
        ("/r4", "ratime", "relatime"),
        ("/r5", "rnosuid", "nosuid"),
    ];
    let dests: Vec<String> = cases
        .iter()
        .flat_map(|(d, _, _)| [d.to_string(), format!("{d}/sub")])
        .collect();
    let dest_refs: Vec<&str> = dests.iter().map(String::as_str).collect();
    let mut b = w.bundle("b", &["sh", "-c", &options_of(&dest_refs)]);
    for (dest, opt, _) in cases {
        push_mount(
            &mut b,
            json!({ "destination": dest, "type": "bind", "source": v,
                    "options": ["rbind", opt] }),
        );
    }
    b.save();
    let out = run_out(&w, &b, "c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), dests.len(), "{out}");
    for (i, (dest, opt, want)) in cases.iter().enumerate() {
        for line in &lines[2 * i..2 * i + 2] {
            assert!(
                line.split(',').any(|f| f == *want),
                "{dest} ({opt}): {want} missing in {line}"
            );
        }
    }
}

/// runc takes a destination spelled as a host path under the rootfs as a
/// path inside it (its mount-order tests do this).
#[test]
fn mounts_destination_spelled_with_the_rootfs_path_lands_inside_it() {
    let w = World::new("dest-rootfs");
    let mut b = w.bundle(
        "b",
        &["awk", "$2 == \"/inside\" { print $3 }", "/proc/self/mounts"],
    );
    let dest = b.rootfs().join("inside");
    push_mount(
        &mut b,
        json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs" }),
    );
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "tmpfs\n");
}

/// mask.bats: a path listed twice is masked once, and masked directories
/// share one read-only tmpfs (one device number).
#[test]
fn masked_paths_are_masked_once_and_directories_share_one_tmpfs() {
    let w = World::new("mask-share");
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "grep -c ' /d1 ' /proc/mounts; grep -c ' /f ' /proc/mounts; \
             [ \"$(stat -c %d /d1)\" = \"$(stat -c %d /d2)\" ] && echo shared",
        ],
    );
    for d in ["d1", "d2"] {
        std::fs::create_dir(b.rootfs().join(d)).expect("mkdir");
    }
    std::fs::write(b.rootfs().join("f"), "secret").expect("write");
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .expect("maskedPaths")
        .extend([
            json!("/d1"),
            json!("/d2"),
            json!("/d1/"),
            json!("/f"),
            json!("/f"),
        ]);
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "1\n1\nshared\n");
}

/// CVE-2019-19921: proc is never mounted through a symlink; the error is
/// runc's ("must be mounted on ordinary directory"), nothing is left.
#[test]
fn mounts_proc_onto_a_symlink_is_refused_with_runcs_words() {
    let w = World::new("proc-symlink");
    let b = w.bundle("b", &["true"]);
    std::fs::create_dir(b.rootfs().join("bad-proc")).expect("mkdir");
    std::os::unix::fs::symlink("/bad-proc", b.rootfs().join("proc")).expect("symlink");
    b.save();
    assert_create_fails_cleanly(&w, &b, "must be mounted on ordinary directory");
}

/// no_pivot.bats: with --no-pivot the host's /proc stays in the mount
/// namespace behind the chroot; the container must not be able to use it
/// to mount a procfs of its own without the masks (the kernel allows a new
/// procfs in a user namespace only where a full one is visible).
#[test]
fn no_pivot_leaves_no_bare_proc_to_mount_from_a_user_namespace() {
    let w = World::new("no-pivot-proc");
    let mut b = w.bundle(
        "b",
        &[
            "unshare",
            "-mrpf",
            "sh",
            "-c",
            "mount -t proc none /proc && echo mounted",
        ],
    );
    for set in ["bounding", "permitted", "effective"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .expect("caps")
            .push(json!("CAP_SETFCAP"));
    }
    b.save();
    let o = w.rt(&["run", "--no-pivot", "--bundle", b.path(), "c1"]);
    assert!(!stdout(&o).contains("mounted"), "bare /proc was mounted");
    assert!(
        stderr(&o).contains("ermission denied") || stdout(&o).contains("ermission denied"),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
}

/// A user namespace with `linux.uidMappings` that map its root to 100000.
fn userns_bundle(w: &World, args: &[&str]) -> Bundle {
    let mut b = w.bundle("b", args);
    b.config["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "user" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }
    ]);
    b.config["linux"]["uidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config["linux"]["gidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    // sysfs cannot be mounted without a network namespace of its own.
    let mounts = b.config["mounts"].as_array_mut().expect("mounts");
    mounts.retain(|m| m["destination"] != "/sys");
    b.config["linux"]
        .as_object_mut()
        .expect("linux")
        .remove("resources");
    let st = std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(b.rootfs())
        .status()
        .expect("chown");
    assert!(st.success());
    b
}

/// userns.bats: bind sources under a directory only the host's root may
/// search are mounted all the same (runc opens them before the user
/// namespace takes over; hull's create makes detached copies of them),
/// for the container's process and for exec.
#[test]
fn userns_bind_mounts_sources_its_root_can_not_reach() {
    let w = World::new("userns-inaccessible");
    let mut b = userns_bundle(&w, &["sleep", "30"]);
    for i in 1..=2 {
        let dir = w.dir.join(format!("private-{i}/dir"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("foo.txt"), format!("{i}\n")).expect("write");
        chmod(&w.dir.join(format!("private-{i}")), 0o700);
        push_mount(
            &mut b,
            json!({ "destination": format!("/mnt{i}"), "source": dir, "options": ["bind"] }),
        );
    }
    b.save();
    let o = w.rt(&["run", "-d", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let o = w.rt(&["exec", "c1", "cat", "/mnt1/foo.txt", "/mnt2/foo.txt"]);
    assert!(o.status.success(), "exec: {}", stderr(&o));
    assert_eq!(stdout(&o), "1\n2\n");
}

/// A missing `process.cwd` under a read-only root: runc makes it before
/// the root becomes read-only.
#[test]
fn process_cwd_missing_under_a_read_only_root_is_made_first() {
    let w = World::new("cwd-ro-root");
    let mut b = w.bundle("b", &["pwd"]);
    b.config["root"]["readonly"] = json!(true);
    b.config["process"]["cwd"] = json!("/made/here");
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "/made/here\n");
}

/// cwd.bats: the cwd is entered before privileges are dropped, so a
/// process whose user (here uid 0 without CAP_DAC_OVERRIDE) may not enter
/// it still starts in it, at create and at exec.
#[test]
fn process_cwd_only_root_can_enter_is_entered_before_privileges_drop() {
    let w = World::new("cwd-root-only");
    let mut b = w.bundle("b", &["sleep", "30"]);
    let home = b.rootfs().join("home42");
    std::fs::create_dir(&home).expect("mkdir");
    chown(&home, 42, 42);
    chmod(&home, 0o700);
    b.config["process"]["cwd"] = json!("/home42");
    b.config["process"]["user"]["uid"] = json!(42);
    b.save();
    let o = w.rt(&["run", "-d", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let o = w.rt(&["exec", "--user", "0", "c1", "pwd"]);
    assert!(o.status.success(), "exec --user 0: {}", stderr(&o));
    assert_eq!(stdout(&o), "/home42\n");

    // And at create: uid 0 without capabilities, a cwd only uid 42 owns.
    let mut b2 = w.bundle("b2", &["pwd"]);
    let home = b2.rootfs().join("home42");
    std::fs::create_dir(&home).expect("mkdir");
    chown(&home, 42, 42);
    chmod(&home, 0o700);
    b2.config["process"]["cwd"] = json!("/home42");
    b2.save();
    assert_eq!(run_out(&w, &b2, "c2"), "/home42\n");
}

/// runtime-spec 1.1 id-mapped mounts: `mounts[].uidMappings` say how ids on
/// disk show through the mount (containerID on disk, hostID seen); `idmap`
/// maps the top mount of an rbind only, `ridmap` its submounts too; the
/// files on disk keep their owners.
#[test]
fn mounts_idmapped_bind_shows_files_under_the_mapped_ids() {
    let w = World::new("idmap");
    let src = w.dir.join("src");
    std::fs::create_dir_all(src.join("sub")).expect("mkdir");
    std::fs::write(src.join("top"), "").expect("write");
    chown(&src.join("top"), 100, 200);
    let sub = w.dir.join("subsrc");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(sub.join("file"), "").expect("write");
    chown(&sub.join("file"), 101, 201);
    let _unmount = UnmountUnder(src.clone());
    mount_cmd(&[
        "--bind",
        &sub.to_string_lossy(),
        &src.join("sub").to_string_lossy(),
    ]);
    let mut b = w.bundle(
        "b",
        &[
            "stat",
            "-c",
            "%n %u %g",
            "/i/top",
            "/i/sub/file",
            "/r/top",
            "/r/sub/file",
        ],
    );
    for (dest, opt) in [("/i", "idmap"), ("/r", "ridmap")] {
        push_mount(
            &mut b,
            json!({ "destination": dest, "type": "bind", "source": src,
                    "options": ["rbind", opt],
                    "uidMappings": [{ "containerID": 100, "hostID": 5100, "size": 10 }],
                    "gidMappings": [{ "containerID": 200, "hostID": 5200, "size": 10 }] }),
        );
    }
    b.save();
    assert_eq!(
        run_out(&w, &b, "c1"),
        "/i/top 5100 5200\n/i/sub/file 101 201\n/r/top 5100 5200\n/r/sub/file 5101 5201\n"
    );
    let st = std::fs::metadata(src.join("top")).expect("stat");
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&st),
            std::os::unix::fs::MetadataExt::gid(&st)
        ),
        (100, 200)
    );
}

/// `idmap` with no maps of its own takes the container's user namespace:
/// root's files on disk are root's in the container.
#[test]
fn mounts_idmap_without_maps_uses_the_containers_user_namespace() {
    let w = World::new("idmap-userns");
    let src = w.dir.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("file"), "").expect("write");
    let mut b = userns_bundle(&w, &["stat", "-c", "%u %g", "/m/file", "/plain/file"]);
    push_mount(
        &mut b,
        json!({ "destination": "/m", "type": "bind", "source": src, "options": ["bind", "idmap"] }),
    );
    push_mount(
        &mut b,
        json!({ "destination": "/plain", "type": "bind", "source": src, "options": ["bind"] }),
    );
    b.save();
    assert_eq!(run_out(&w, &b, "c1"), "0 0\n65534 65534\n");
}

/// An id-mapped mount must be a bind mount: create says so, and leaves
/// nothing behind.
#[test]
fn mounts_idmap_on_a_filesystem_mount_fails_cleanly() {
    let w = World::new("idmap-tmpfs");
    let mut b = w.bundle("b", &["true"]);
    push_mount(
        &mut b,
        json!({ "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
                "uidMappings": [{ "containerID": 0, "hostID": 5000, "size": 10 }],
                "gidMappings": [{ "containerID": 0, "hostID": 5000, "size": 10 }] }),
    );
    b.save();
    assert_create_fails_cleanly(&w, &b, "id-mapped");
}
