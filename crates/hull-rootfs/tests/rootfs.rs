//! Integration tests on the real kernel (run as root). Each scenario forks a child that
//! unshares a mount and a PID namespace and forks again so the worker is PID 1; the worker
//! builds a rootfs in a temporary directory, pivots into it and checks what it sees. Its
//! verdict comes back through a pipe. The harness is our own `main` so the process stays
//! single-threaded and fork is safe.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hull_rootfs::{RootfsError, RootfsOptions};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

type Check = Result<(), String>;
type Test = (&'static str, fn() -> Check);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// A temporary bundle directory removed on drop, whatever happened.
struct TempBundle {
    dir: PathBuf,
    extra: Vec<PathBuf>,
}

impl TempBundle {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hull-rootfs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("rootfs/bin")).expect("create temp rootfs");
        fs::copy("/bin/busybox", dir.join("rootfs/bin/busybox")).expect("copy busybox");
        TempBundle {
            dir,
            extra: Vec::new(),
        }
    }
    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

impl Drop for TempBundle {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        for p in &self.extra {
            let _ = fs::remove_dir_all(p);
        }
    }
}

/// Runs `f` as PID 1 of a new PID namespace inside a new mount namespace; returns its verdict.
fn in_container(f: impl FnOnce() -> Check) -> Check {
    in_container_with(CloneFlags::empty(), f)
}

/// [`in_container`] with more namespaces unshared.
fn in_container_with(extra: CloneFlags, f: impl FnOnce() -> Check) -> Check {
    let (r, w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the test process is single-threaded (own harness), so fork is sound.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(r);
            let mut w = fs::File::from(w);
            let verdict = (|| {
                unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | extra)
                    .map_err(|e| format!("unshare: {e}"))?;
                // SAFETY: still single-threaded.
                match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
                    ForkResult::Child => {
                        let v = f();
                        let msg = match &v {
                            Ok(()) => String::new(),
                            Err(e) => e.clone(),
                        };
                        let _ = w.write_all(msg.as_bytes());
                        // SAFETY: _exit skips destructors of the parent's state; intended.
                        unsafe { libc::_exit(i32::from(v.is_err())) }
                    }
                    ForkResult::Parent { child } => match waitpid(child, None) {
                        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
                        Ok(s) => Err(format!("worker ended with {s:?}")),
                        Err(e) => Err(format!("waitpid: {e}")),
                    },
                }
            })();
            if let Err(e) = &verdict {
                let _ = w.write_all(e.as_bytes());
            }
            // SAFETY: leave the forked test process without running the harness.
            unsafe { libc::_exit(i32::from(verdict.is_err())) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            let _ = fs::File::from(r).read_to_string(&mut msg);
            let status = waitpid(child, None).map_err(|e| format!("waitpid: {e}"))?;
            match status {
                WaitStatus::Exited(_, 0) if msg.is_empty() => Ok(()),
                s => Err(format!("{msg} (status {s:?})")),
            }
        }
    }
}

fn spec(json: &str) -> oci_spec::runtime::Spec {
    serde_json::from_str(json).expect("test spec parses")
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn char_dev(path: &str, major: u64, minor: u64, mode: u32) -> Check {
    let m = fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
    ensure!(
        m.file_type().is_char_device(),
        "{path} is not a char device"
    );
    let rdev = m.rdev();
    ensure!(
        libc::major(rdev) as u64 == major && libc::minor(rdev) as u64 == minor,
        "{path} is {}:{}",
        libc::major(rdev),
        libc::minor(rdev)
    );
    ensure!(
        m.permissions().mode() & 0o7777 == mode,
        "{path} mode {:o}",
        m.mode()
    );
    Ok(())
}

fn statvfs_flags(path: &str) -> Result<nix::sys::statvfs::FsFlags, String> {
    nix::sys::statvfs::statvfs(path)
        .map(|s| s.flags())
        .map_err(|e| format!("statvfs {path}: {e}"))
}

/// The full scenario: default mounts, cgroup v1, binds, devices, masks, read-only paths,
/// escape attempts through symlinks, pivot_root and the console.
fn full_container() -> Check {
    let b = TempBundle::new("full");
    let rootfs = b.rootfs();
    let escape_abs = PathBuf::from(format!("/hull-rootfs-escape-{}", std::process::id()));
    let mut b = b;
    b.extra.push(escape_abs.clone());
    // Host data for a relative bind source, and a host dir a naive symlink follow would hit.
    fs::create_dir_all(b.dir.join("data")).map_err(|e| e.to_string())?;
    fs::write(b.dir.join("data/hello"), "hi").map_err(|e| e.to_string())?;
    fs::create_dir_all(b.dir.join("host-target")).map_err(|e| e.to_string())?;
    fs::write(b.dir.join("host-target/sentinel"), "keep").map_err(|e| e.to_string())?;
    fs::create_dir_all(rootfs.join("mnt")).map_err(|e| e.to_string())?;
    fs::create_dir_all(rootfs.join("ro-dir")).map_err(|e| e.to_string())?;
    fs::create_dir_all(rootfs.join("rw-dir")).map_err(|e| e.to_string())?;
    fs::create_dir_all(rootfs.join("masked-dir")).map_err(|e| e.to_string())?;
    fs::write(rootfs.join("masked-dir/secret"), "s").map_err(|e| e.to_string())?;
    fs::write(rootfs.join("masked-file"), "secret").map_err(|e| e.to_string())?;
    // rootfs/mnt/evil -> ../../host-target: on the host that is <bundle>/host-target.
    std::os::unix::fs::symlink("../../host-target", rootfs.join("mnt/evil"))
        .map_err(|e| e.to_string())?;
    // rootfs/mnt/abs -> /../../<escape>: on the host that is /<escape>.
    std::os::unix::fs::symlink(
        format!("/../..{}", escape_abs.display()),
        rootfs.join("mnt/abs"),
    )
    .map_err(|e| e.to_string())?;

    let json = r#"{
  "ociVersion": "1.2.0",
  "root": {"path": "rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid","noexec","nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid","noexec","nodev","relatime","ro"]},
    {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind","ro","nosuid","rprivate"]},
    {"destination": "/data2", "type": "bind", "source": "data", "options": ["rbind","rro","rnoexec"]},
    {"destination": "/mnt/evil/sub", "type": "tmpfs", "source": "tmpfs"},
    {"destination": "/mnt/abs/sub", "type": "tmpfs", "source": "tmpfs"}
  ],
  "linux": {
    "devices": [{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 7, "fileMode": 416, "uid": 1000, "gid": 1001},
                {"path": "/dev/sub/fifo", "type": "p", "major": 0, "minor": 0}],
    "maskedPaths": ["/masked-file", "/masked-dir", "/does/not/exist", "/proc/kcore"],
    "readonlyPaths": ["/ro-dir", "/proc/sys", "/missing-too"]
  }
}"#;
    let spec = spec(json);
    let bundle = b.dir.clone();
    let rootfs_in = rootfs.clone();
    let escape_in = escape_abs.clone();
    in_container(move || {
        let opts = RootfsOptions {
            spec: &spec,
            rootfs: &rootfs_in,
            bundle: &bundle,
            no_pivot: false,
            in_user_namespace: false,
            in_cgroup_namespace: false,
            host_mount_namespace: false,
            cgroup_mountinfo: None,
            bind_trees: &[],
        };
        hull_rootfs::prepare(&opts).map_err(|e| format!("prepare: {e}"))?;
        hull_rootfs::pivot(&opts).map_err(|e| format!("pivot: {e}"))?;
        hull_rootfs::finish(&opts).map_err(|e| format!("finish: {e}"))?;

        // proc is ours: we are PID 1 in it.
        let me = fs::read_link("/proc/self").map_err(|e| format!("/proc/self: {e}"))?;
        ensure!(me == Path::new("1"), "/proc/self is {me:?}");
        ensure!(!Path::new(&bundle).exists(), "old root still visible");
        // Default devices and the spec's device.
        char_dev("/dev/null", 1, 3, 0o666)?;
        char_dev("/dev/zero", 1, 5, 0o666)?;
        char_dev("/dev/tty", 5, 0, 0o666)?;
        char_dev("/dev/mydev", 1, 7, 0o640)?;
        let m = fs::metadata("/dev/mydev").map_err(|e| e.to_string())?;
        ensure!(
            m.uid() == 1000 && m.gid() == 1001,
            "/dev/mydev owner {}:{}",
            m.uid(),
            m.gid()
        );
        let fifo = fs::metadata("/dev/sub/fifo").map_err(|e| format!("/dev/sub/fifo: {e}"))?;
        ensure!(fifo.file_type().is_fifo(), "/dev/sub/fifo is not a fifo");
        for (link, target) in [
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stderr", "/proc/self/fd/2"),
            ("/dev/ptmx", "pts/ptmx"),
        ] {
            let t = fs::read_link(link).map_err(|e| format!("{link}: {e}"))?;
            ensure!(t == Path::new(target), "{link} -> {t:?}");
        }
        // Masked: file reads empty (it is /dev/null), dir is empty and read-only.
        let content = fs::read("/masked-file").map_err(|e| format!("/masked-file: {e}"))?;
        ensure!(content.is_empty(), "masked file readable: {content:?}");
        char_dev("/masked-file", 1, 3, 0o666)?;
        ensure!(
            fs::read("/proc/kcore")
                .map(|c| c.is_empty())
                .unwrap_or(true),
            "/proc/kcore not masked"
        );
        ensure!(
            !Path::new("/masked-dir/secret").exists(),
            "masked dir shows its content"
        );
        let e = fs::write("/masked-dir/x", "x").expect_err("masked dir writable");
        ensure!(errno_of(&e) == libc::EROFS, "masked dir write: {e}");
        // Read-only paths: EROFS there, the rest writable, proc flags kept.
        let e = fs::write("/ro-dir/x", "x").expect_err("ro-dir writable");
        ensure!(errno_of(&e) == libc::EROFS, "ro-dir write: {e}");
        fs::write("/rw-dir/x", "x").map_err(|e| format!("rw-dir write: {e}"))?;
        use nix::sys::statvfs::FsFlags;
        let f = statvfs_flags("/proc/sys")?;
        ensure!(
            f.contains(
                FsFlags::ST_RDONLY | FsFlags::ST_NOSUID | FsFlags::ST_NODEV | FsFlags::ST_NOEXEC
            ),
            "/proc/sys flags {f:?}"
        );
        // Bind with a relative source, ro + nosuid applied by the remount.
        let hello = fs::read_to_string("/data/hello").map_err(|e| format!("/data/hello: {e}"))?;
        ensure!(hello == "hi", "/data/hello is {hello:?}");
        let f = statvfs_flags("/data")?;
        ensure!(
            f.contains(FsFlags::ST_RDONLY | FsFlags::ST_NOSUID),
            "/data flags {f:?}"
        );
        let f = statvfs_flags("/data2")?;
        ensure!(
            f.contains(FsFlags::ST_RDONLY | FsFlags::ST_NOEXEC),
            "/data2 flags {f:?}"
        );
        // sysfs read-only, cgroup v1 tree.
        ensure!(
            statvfs_flags("/sys")?.contains(FsFlags::ST_RDONLY),
            "/sys not ro"
        );
        ensure!(Path::new("/sys/kernel").exists(), "sysfs not mounted");
        ensure!(
            statvfs_flags("/sys/fs/cgroup")?.contains(FsFlags::ST_RDONLY),
            "cgroup tmpfs not ro"
        );
        if Path::new("/proc/self/cgroup").exists() && !is_cgroup2_host() {
            ensure!(
                Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists(),
                "no memory hierarchy"
            );
            ensure!(
                statvfs_flags("/sys/fs/cgroup/memory")?.contains(FsFlags::ST_RDONLY),
                "memory cgroup not ro"
            );
        }
        // Escapes landed inside the rootfs.
        ensure!(
            Path::new("/host-target/sub").is_dir(),
            "relative escape target missing in rootfs"
        );
        ensure!(
            Path::new(&format!("{}/sub", escape_in.display())).is_dir(),
            "absolute escape target missing in rootfs"
        );
        // devpts + console.
        let master =
            nix::pty::posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
                .map_err(|e| format!("posix_openpt: {e}"))?;
        nix::pty::grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
        nix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
        let slave = nix::pty::ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
        hull_rootfs::mount_console(Path::new(&slave)).map_err(|e| format!("console: {e}"))?;
        let c = fs::metadata("/dev/console").map_err(|e| format!("/dev/console: {e}"))?;
        let s = fs::metadata(&slave).map_err(|e| format!("{slave}: {e}"))?;
        ensure!(c.rdev() == s.rdev(), "/dev/console is not {slave}");
        // busybox runs in the new root.
        let out = std::process::Command::new("/bin/busybox")
            .args(["cat", "/data/hello"])
            .output()
            .map_err(|e| format!("busybox: {e}"))?;
        ensure!(out.stdout == b"hi", "busybox cat: {:?}", out);
        Ok(())
    })?;
    // Host side: nothing was created through the symlinks.
    let entries: Vec<_> = fs::read_dir(b.dir.join("host-target"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    ensure!(entries == ["sentinel"], "host-target touched: {entries:?}");
    ensure!(
        !escape_abs.exists(),
        "{} created on the host",
        escape_abs.display()
    );
    ensure!(
        rootfs.join("host-target/sub").is_dir(),
        "sub not made inside the rootfs"
    );
    Ok(())
}

fn is_cgroup2_host() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// no_pivot, root.readonly, no /dev tmpfs: devices go into the image's /dev, and a symlinked
/// device directory must not lead onto the host.
fn readonly_root_no_pivot() -> Check {
    let b = TempBundle::new("ro");
    let rootfs = b.rootfs();
    fs::create_dir_all(rootfs.join("dev")).map_err(|e| e.to_string())?;
    fs::create_dir_all(b.dir.join("dev-escape")).map_err(|e| e.to_string())?;
    // rootfs/dev/evil -> ../../dev-escape: <bundle>/dev-escape on the host.
    std::os::unix::fs::symlink("../../dev-escape", rootfs.join("dev/evil"))
        .map_err(|e| e.to_string())?;
    // An image's /dev/null that is a symlink to a host file must be replaced, not followed.
    fs::write(b.dir.join("victim"), "untouched").map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink("../../victim", rootfs.join("dev/null"))
        .map_err(|e| e.to_string())?;
    let spec = spec(
        r#"{
  "ociVersion": "1.2.0",
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {
    "devices": [{"path": "/dev/evil/zero2", "type": "c", "major": 1, "minor": 5, "fileMode": 438}],
    "rootfsPropagation": "rprivate"
  }
}"#,
    );
    let bundle = b.dir.clone();
    let rootfs_in = rootfs.clone();
    in_container(move || {
        let opts = RootfsOptions {
            spec: &spec,
            rootfs: &rootfs_in,
            bundle: &bundle,
            no_pivot: true,
            in_user_namespace: false,
            in_cgroup_namespace: false,
            host_mount_namespace: false,
            cgroup_mountinfo: None,
            bind_trees: &[],
        };
        hull_rootfs::prepare(&opts).map_err(|e| format!("prepare: {e}"))?;
        hull_rootfs::pivot(&opts).map_err(|e| format!("pivot: {e}"))?;
        hull_rootfs::finish(&opts).map_err(|e| format!("finish: {e}"))?;
        let e = fs::write("/newfile", "x").expect_err("root writable");
        ensure!(errno_of(&e) == libc::EROFS, "write to /: {e}");
        char_dev("/dev/null", 1, 3, 0o666)?;
        char_dev("/dev-escape/zero2", 1, 5, 0o666)?;
        ensure!(
            fs::read_link("/proc/self")
                .map(|p| p == Path::new("1"))
                .unwrap_or(false),
            "proc not ours"
        );
        Ok(())
    })?;
    let escaped: Vec<_> = fs::read_dir(b.dir.join("dev-escape"))
        .map_err(|e| e.to_string())?
        .collect();
    ensure!(
        escaped.is_empty(),
        "device created on the host: {escaped:?}"
    );
    let v = fs::read_to_string(b.dir.join("victim")).map_err(|e| e.to_string())?;
    ensure!(
        v == "untouched",
        "host file behind /dev/null symlink changed: {v:?}"
    );
    let m = fs::symlink_metadata(rootfs.join("dev-escape/zero2")).map_err(|e| e.to_string())?;
    ensure!(
        m.file_type().is_char_device(),
        "zero2 not made inside the rootfs"
    );
    Ok(())
}

/// The user-namespace code path (devices bound from the host instead of mknod) and a
/// cgroup namespace (real cgroup mounts per v1 hierarchy, cgroup2 for `unified`).
fn bound_devices_and_cgroupns() -> Check {
    let b = TempBundle::new("userns");
    let spec = spec(
        r#"{
  "ociVersion": "1.2.0",
  "root": {"path": "rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","mode=755"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid","noexec","nodev"]}
  ],
  "linux": {"devices": [{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}]}
}"#,
    );
    let bundle = b.dir.clone();
    let rootfs = b.rootfs();
    in_container_with(CloneFlags::CLONE_NEWCGROUP, move || {
        let opts = RootfsOptions {
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            no_pivot: false,
            in_user_namespace: true,
            in_cgroup_namespace: true,
            host_mount_namespace: false,
            cgroup_mountinfo: None,
            bind_trees: &[],
        };
        hull_rootfs::prepare(&opts).map_err(|e| format!("prepare: {e}"))?;
        hull_rootfs::pivot(&opts).map_err(|e| format!("pivot: {e}"))?;
        hull_rootfs::finish(&opts).map_err(|e| format!("finish: {e}"))?;
        char_dev("/dev/null", 1, 3, 0o666)?;
        char_dev("/dev/full", 1, 7, 0o666)?;
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let mounted = |point: &str, fstype: &str| {
            mountinfo.lines().any(|l| {
                l.split(' ').nth(4) == Some(point)
                    && l.split(" - ").nth(1).is_some_and(|r| r.starts_with(fstype))
            })
        };
        ensure!(
            mountinfo
                .lines()
                .any(|l| l.split(' ').nth(4) == Some("/dev/null")),
            "/dev/null is not a bind mount:\n{mountinfo}"
        );
        if !is_cgroup2_host() {
            ensure!(
                mounted("/sys/fs/cgroup/memory", "cgroup "),
                "no cgroup mount for memory:\n{mountinfo}"
            );
            ensure!(
                Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists(),
                "memory hierarchy empty"
            );
            if Path::new("/sys/fs/cgroup/unified").exists() {
                ensure!(
                    mounted("/sys/fs/cgroup/unified", "cgroup2 "),
                    "unified is not cgroup2:\n{mountinfo}"
                );
            }
        } else {
            ensure!(
                mounted("/sys/fs/cgroup", "cgroup2 "),
                "no cgroup2 mount:\n{mountinfo}"
            );
        }
        Ok(())
    })
}

/// finish works by descriptors: masks and read-only paths need no /proc in the new root.
fn finish_without_proc() -> Check {
    let b = TempBundle::new("noproc");
    let rootfs = b.rootfs();
    fs::create_dir_all(rootfs.join("ro-dir")).map_err(|e| e.to_string())?;
    fs::create_dir_all(rootfs.join("masked-dir")).map_err(|e| e.to_string())?;
    fs::write(rootfs.join("masked-file"), "secret").map_err(|e| e.to_string())?;
    let spec = spec(
        r#"{
  "ociVersion": "1.2.0",
  "root": {"path": "rootfs"},
  "mounts": [{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","mode=755"]}],
  "linux": {"maskedPaths": ["/masked-file", "/masked-dir"], "readonlyPaths": ["/ro-dir"]}
}"#,
    );
    let bundle = b.dir.clone();
    in_container(move || {
        let opts = RootfsOptions {
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            no_pivot: false,
            in_user_namespace: false,
            in_cgroup_namespace: false,
            host_mount_namespace: false,
            cgroup_mountinfo: None,
            bind_trees: &[],
        };
        hull_rootfs::prepare(&opts).map_err(|e| format!("prepare: {e}"))?;
        hull_rootfs::pivot(&opts).map_err(|e| format!("pivot: {e}"))?;
        hull_rootfs::finish(&opts).map_err(|e| format!("finish: {e}"))?;
        ensure!(!Path::new("/proc/self").exists(), "a /proc is mounted");
        let content = fs::read("/masked-file").map_err(|e| format!("/masked-file: {e}"))?;
        ensure!(content.is_empty(), "masked file readable: {content:?}");
        let e = fs::write("/masked-dir/x", "x").expect_err("masked dir writable");
        ensure!(errno_of(&e) == libc::EROFS, "masked dir write: {e}");
        let e = fs::write("/ro-dir/x", "x").expect_err("ro-dir writable");
        ensure!(errno_of(&e) == libc::EROFS, "ro-dir write: {e}");
        Ok(())
    })
}

/// prepare must fail with the named error; checked inside a throwaway namespace.
fn expect_prepare_error(
    name: &str,
    json: &str,
    setup: impl FnOnce(&Path),
    want: impl Fn(&RootfsError) -> bool,
) -> Check {
    let b = TempBundle::new(name);
    setup(&b.rootfs());
    let spec = spec(json);
    let bundle = b.dir.clone();
    let rootfs = b.rootfs();
    in_container(move || {
        let opts = RootfsOptions {
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            no_pivot: false,
            in_user_namespace: false,
            in_cgroup_namespace: false,
            host_mount_namespace: false,
            cgroup_mountinfo: None,
            bind_trees: &[],
        };
        match hull_rootfs::prepare(&opts) {
            Ok(()) => Err("prepare succeeded".into()),
            Err(e) if want(&e) => Ok(()),
            Err(e) => Err(format!("unexpected error: {e}")),
        }
    })
}

fn refuses_proc_symlinks() -> Check {
    // /proc in the image is a symlink: proc must not be mounted through it
    // (runc's words: "must be mounted on ordinary directory").
    expect_prepare_error(
        "procsym",
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}"#,
        |r| {
            let _ = std::os::unix::fs::symlink("/tmp", r.join("proc"));
        },
        |e| {
            matches!(e, RootfsError::NotADirectory { .. })
                && e.to_string()
                    .contains("must be mounted on ordinary directory")
        },
    )?;
    // A bind onto /proc/self/... goes through the "self" symlink: refused.
    expect_prepare_error(
        "procself",
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                      {"destination":"/proc/self/attr/current","type":"bind","source":"/dev/null","options":["bind"]}]}"#,
        |_| {},
        |e| matches!(e, RootfsError::UnsafeDestination { .. }),
    )?;
    // Over a procfs file outside the allowed list: refused.
    expect_prepare_error(
        "procfile",
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                      {"destination":"/proc/keys","type":"bind","source":"/dev/null","options":["bind"]}]}"#,
        |_| {},
        |e| matches!(e, RootfsError::UnsafeDestination { .. }),
    )
}

fn reports_bad_options() -> Check {
    expect_prepare_error(
        "badopt",
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
            "mounts":[{"destination":"/t","type":"tmpfs","source":"tmpfs","options":["idmap"]}]}"#,
        |_| {},
        |e| {
            matches!(e, RootfsError::InvalidMount { .. })
                && e.to_string().contains("/t")
                && e.to_string().contains("id-mapped")
        },
    )?;
    let s = spec(
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"linux":{"rootfsPropagation":"sideways"}}"#,
    );
    match hull_rootfs::rootfs_propagation(&s) {
        Err(e @ RootfsError::UnknownRootfsPropagation(_)) if e.to_string().contains("sideways") => {
        }
        r => return Err(format!("rootfsPropagation sideways gave {r:?}")),
    }
    let s = spec(
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"linux":{"rootfsPropagation":"rshared"}}"#,
    );
    match hull_rootfs::rootfs_propagation(&s) {
        Ok(Some(f)) if f == libc::MS_SHARED | libc::MS_REC => Ok(()),
        r => Err(format!("rshared gave {r:?}")),
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("hull-rootfs integration tests need root; skipped");
        return;
    }
    let tests: [Test; 6] = [
        ("finish_without_proc", finish_without_proc),
        ("bound_devices_and_cgroupns", bound_devices_and_cgroupns),
        ("full_container", full_container),
        ("readonly_root_no_pivot", readonly_root_no_pivot),
        ("refuses_proc_symlinks", refuses_proc_symlinks),
        ("reports_bad_options", reports_bad_options),
    ];
    let mut failed = 0;
    for (name, t) in tests {
        match t() {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED: {e}");
            }
        }
    }
    if failed > 0 {
        println!("{failed} failed");
        std::process::exit(1);
    }
}
