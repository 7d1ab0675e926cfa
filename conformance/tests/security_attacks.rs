//! Issue #4: seccomp and hardening, attacked through whole running
//! containers (docs/security.md). Each test runs real containers with the
//! runtime under test; what the attacker tries comes from inside the
//! container (the probe), what must not change is checked on the host.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hull_conformance::*;
use serde_json::{json, Value};

/// The capabilities of the harness's default config (no CAP_SYS_ADMIN).
const CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

fn cgroup_name(b: &Bundle) -> String {
    b.config["linux"]["cgroupsPath"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Opens `path` (a directory) at an fd number of 100 or more, so that
/// [`leak_fds`] never dup2s it onto itself (which would keep O_CLOEXEC).
fn open_dir(path: &Path) -> OwnedFd {
    let f = std::fs::File::open(path).expect("open host dir");
    // SAFETY: F_DUPFD_CLOEXEC on an fd we own returns a new fd or -1.
    let fd = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
    assert!(
        fd >= 100,
        "F_DUPFD_CLOEXEC: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `fd` was just made by fcntl and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Makes the runtime start with `fd` duplicated (inheritable) onto every
/// number in `targets`, as a careless caller would leak host fds.
fn leak_fds(cmd: &mut std::process::Command, fd: RawFd, targets: std::ops::RangeInclusive<i32>) {
    // SAFETY: the closure runs in the forked child before exec and only
    // calls dup2, which is async-signal-safe; `fd` stays open in the parent
    // until the command has been spawned (the caller owns it).
    unsafe {
        cmd.pre_exec(move || {
            for t in targets.clone() {
                if libc::dup2(fd, t) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------
// 1. The containers' default seccomp profile.

#[test]
fn seccomp_containers_default_profile_runs_busybox_and_denies_with_eperm() {
    let w = World::new("atk-containers-seccomp");
    let script = "echo ok; ls /; probe report | grep ^seccomp=; \
                  echo perf $(probe syscall perf_event_open 0 0 -1 -1 0); \
                  echo vmsplice $(probe syscall vmsplice -1 0 0 0); \
                  echo add_key $(probe syscall add_key 0 0 0 0 0)";
    let mut b = w.bundle("b", &["sh", "-c", script]);
    b.config["linux"]["seccomp"] = containers_seccomp(CAPS);
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("ok\n"), "{out}");
    for dir in ["bin", "etc", "proc", "tmp"] {
        assert!(out.lines().any(|l| l == dir), "ls / misses {dir}: {out}");
    }
    assert_eq!(report_value(&out, "seccomp").as_deref(), Some("2"), "{out}");
    // Denied by rules with errnoRet 1 (perf_event_open: no CAP_SYS_ADMIN;
    // vmsplice: always); without a filter the kernel answers EFAULT and
    // EBADF. (setns is in the profile's unconditional allowlist.)
    assert!(out.contains("perf errno=1\n"), "{out}");
    assert!(out.contains("vmsplice errno=1\n"), "{out}");
    // Not in the profile: the default action, ENOSYS.
    assert!(out.contains("add_key errno=38\n"), "{out}");

    // The same probe without a filter: the errnos above come from seccomp.
    let mut plain = w.bundle("plain", &["sh", "-c", script]);
    plain.config["linux"]
        .as_object_mut()
        .expect("linux")
        .remove("seccomp");
    plain.save();
    let o = w.rt(&["run", "--bundle", plain.path(), "c2"]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(report_value(&out, "seccomp").as_deref(), Some("0"), "{out}");
    assert!(out.contains("perf errno=14\n"), "{out}");
    assert!(out.contains("vmsplice errno=9\n"), "{out}");
}

// ---------------------------------------------------------------------------
// 2. SCMP_ACT_NOTIFY: the listener fd and state reach listenerPath, and an
//    answer from there is what the container's syscall returns.

struct Notified {
    state: Value,
    nr: i32,
}

/// Accepts one connection on `listener`, receives the state and the
/// seccomp fd, answers the first notification with `val`.
fn seccomp_agent(listener: UnixListener, val: i64) -> Result<Notified, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("nonblocking: {e}"))?;
    let end = Instant::now() + Duration::from_secs(15);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("no connection on listenerPath: {e}")),
        }
    };
    conn.set_nonblocking(false)
        .map_err(|e| format!("blocking: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| format!("timeout: {e}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let (len, fds) = {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("recvmsg: {e}"))?;
        let mut fds = Vec::new();
        for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
            if let ControlMessageOwned::ScmRights(v) = c {
                for fd in v {
                    // SAFETY: the kernel just installed this fd for us.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        (msg.bytes, fds)
    };
    let state: Value = serde_json::from_slice(&buf[..len]).map_err(|e| {
        format!(
            "state is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&buf[..len])
        )
    })?;
    if fds.len() != 1 {
        return Err(format!("{} fds with the state, want 1", fds.len()));
    }
    let notify = &fds[0];
    let mut pfd = libc::pollfd {
        fd: notify.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    if unsafe { libc::poll(&mut pfd, 1, 10_000) } != 1 {
        return Err("no seccomp notification within 10 s".into());
    }
    // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: NOTIF_RECV fills `req` on the listener fd we own.
    if unsafe { libc::ioctl(notify.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
        return Err(format!("NOTIF_RECV: {}", std::io::Error::last_os_error()));
    }
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val,
        error: 0,
        flags: 0,
    };
    // SAFETY: NOTIF_SEND reads `resp`.
    if unsafe {
        libc::ioctl(
            notify.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    } != 0
    {
        return Err(format!("NOTIF_SEND: {}", std::io::Error::last_os_error()));
    }
    Ok(Notified {
        state,
        nr: req.data.nr,
    })
}

#[test]
fn seccomp_notify_reaches_listener_path_and_its_answer_is_returned() {
    let w = World::new("atk-notify");
    let sock = w.dir.join("agent.sock");
    let listener = UnixListener::bind(&sock).expect("bind the agent socket");
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo mkdir $(probe syscall mkdir /tmp/notified 493); echo after",
        ],
    );
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "conformance-agent",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
    });
    b.save();
    let agent = std::thread::spawn(move || seccomp_agent(listener, 4242));
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    let got = agent.join().expect("agent thread");
    let got = got.unwrap_or_else(|e| panic!("agent: {e}; run: {}", stderr(&o)));
    assert!(o.status.success(), "run: {}", stderr(&o));
    assert_eq!(got.nr as libc::c_long, libc::SYS_mkdir);
    let s = &got.state;
    assert_eq!(s["fds"], json!(["seccompFd"]), "{s}");
    assert_eq!(s["metadata"], "conformance-agent", "{s}");
    assert!(s["ociVersion"].is_string(), "{s}");
    assert!(s["pid"].as_i64().is_some_and(|p| p > 0), "{s}");
    assert_eq!(s["state"]["id"], "c1", "{s}");
    assert_eq!(s["state"]["pid"], s["pid"], "{s}");
    assert!(
        s["state"]["bundle"]
            .as_str()
            .is_some_and(|p| Path::new(p) == b.dir),
        "{s}"
    );
    // The container got the agent's answer, and the kernel never ran mkdir.
    let out = stdout(&o);
    assert!(out.contains("mkdir ret=4242\n"), "{out}");
    assert!(out.contains("after\n"), "{out}");
    assert!(!b.rootfs().join("tmp/notified").exists());
}

// ---------------------------------------------------------------------------
// 3a. CVE-2019-5736: the runtime binary through /proc/<pid>/exe.

/// Polls for `path` for up to `secs` seconds.
fn wait_for(path: &Path, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn attack_cve_2019_5736_proc_exe_never_reaches_the_runtime_binary() {
    let w = World::new("atk-5736");
    let rt = std::fs::canonicalize(runtime()).expect("runtime binary");
    let before = std::fs::read(&rt).expect("read the runtime binary");
    let meta = std::fs::metadata(&rt).expect("stat the runtime binary");
    let target = format!("{}:{}", meta.dev(), meta.ino());
    let attack = format!(
        "probe exe-attack {target} 5 > /attack.out 2>&1; mv /attack.out /attack.done; sleep 60"
    );
    let b = w.spec_bundle("b", &["sh", "-c", &attack]);
    // The classic payload: a program whose interpreter is /proc/self/exe.
    let evil = b.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").expect("write /evil");
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "create: {}", stderr(&o));
    let o = w.rt(&["start", "c1"]);
    assert!(o.status.success(), "start: {}", stderr(&o));

    // While the init scans, exec into the container again and again: each
    // exec'ing runtime process joins the container's pid namespace.
    let mut hits = Vec::new();
    let o = w.rt(&["exec", "-d", "c1", "/evil"]);
    assert!(o.status.success(), "exec /evil: {}", stderr(&o));
    let end = Instant::now() + Duration::from_secs(4);
    let mut execs = 0;
    while Instant::now() < end {
        let o = w.rt(&["exec", "c1", "probe", "exe-attack", &target, "0"]);
        assert!(o.status.success(), "exec: {}", stderr(&o));
        hits.extend(
            stdout(&o)
                .lines()
                .filter(|l| l.starts_with("hit"))
                .map(str::to_string),
        );
        let o = w.rt(&["exec", "c1", "true"]);
        assert!(o.status.success(), "exec true: {}", stderr(&o));
        execs += 1;
    }
    assert!(execs > 0);
    let done = b.rootfs().join("attack.done");
    assert!(wait_for(&done, 15), "the attacker did not finish");
    let report = std::fs::read_to_string(&done).unwrap_or_default();
    hits.extend(
        report
            .lines()
            .filter(|l| l.starts_with("hit"))
            .map(str::to_string),
    );
    let scans: u64 = report_value(&report, "scans")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(scans > 1, "the attacker did not run: {report}");
    let o = w.rt(&["delete", "--force", "c1"]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    let after = std::fs::read(&rt).expect("read the runtime binary");
    assert!(before == after, "the runtime binary changed");
    hits.sort();
    hits.dedup();
    hits.truncate(10);
    assert!(
        hits.is_empty(),
        "the container reached the runtime: {hits:?}"
    );
}

// ---------------------------------------------------------------------------
// 3b. CVE-2024-21626: leaked host fds and a cwd through /proc/self/fd.

#[test]
fn attack_cve_2024_21626_cwd_through_leaked_fd_stays_in_the_root() {
    let w = World::new("atk-21626");
    let host = w.dir.join("host-dir");
    std::fs::create_dir_all(&host).expect("host dir");
    std::fs::write(host.join("host-secret-marker"), "x").expect("marker");
    let host_fd = open_dir(&host);
    let raw = host_fd.as_raw_fd();
    let mut b = w.bundle(
        "b",
        &[
            "sh",
            "-c",
            "probe report | grep ^cwd=; ls -a; ls -a ../../..; probe fds",
        ],
    );
    for n in 3..10 {
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.save();
        let id = format!("c{n}");
        let o = w.rt_with(&["run", "--bundle", b.path(), &id], |c| {
            leak_fds(c, raw, 3..=9)
        });
        let out = stdout(&o);
        eprintln!("cwd {n}: {} {out} {}", o.status, stderr(&o));
        assert!(
            !out.contains("host-secret-marker"),
            "cwd {n} reached the host: {out}"
        );
        if o.status.success() {
            let cwd = report_value(&out, "cwd").unwrap_or_default();
            assert!(cwd.starts_with('/'), "cwd {n} outside the root: {out}");
            assert_eq!(report_value(&out, "fds").as_deref(), Some("0,1,2"), "{out}");
        }
        let _ = w.rt(&["delete", "--force", &id]);
    }
    assert!(w.root_is_empty(), "state left behind");
    assert!(
        cgroups_named(&cgroup_name(&b)).is_empty(),
        "cgroup left behind"
    );
    assert_eq!(entries(&host), ["host-secret-marker"]);
}

#[test]
fn attack_cve_2024_21626_only_stdio_and_preserved_fds_reach_the_container() {
    let w = World::new("atk-21626-fds");
    let host = w.dir.join("host-dir");
    std::fs::create_dir_all(&host).expect("host dir");
    let host_fd = open_dir(&host);
    let raw = host_fd.as_raw_fd();
    let b = w.bundle("b", &["probe", "fds"]);
    b.save();
    let o = w.rt_with(&["run", "--bundle", b.path(), "c1"], |c| {
        leak_fds(c, raw, 3..=9)
    });
    assert!(o.status.success(), "run: {}", stderr(&o));
    assert_eq!(report_value(&stdout(&o), "fds").as_deref(), Some("0,1,2"));
    let o = w.rt_with(
        &["run", "--preserve-fds", "2", "--bundle", b.path(), "c2"],
        |c| leak_fds(c, raw, 3..=9),
    );
    assert!(o.status.success(), "run: {}", stderr(&o));
    assert_eq!(
        report_value(&stdout(&o), "fds").as_deref(),
        Some("0,1,2,3,4")
    );

    // The same for processes exec'd into a running container.
    let mut b2 = w.bundle("b2", &["sleep", "60"]);
    b2.config["process"]["cwd"] = json!("/");
    b2.save();
    let o = w.rt(&["run", "-d", "--bundle", b2.path(), "c3"]);
    assert!(o.status.success(), "run -d: {}", stderr(&o));
    let o = w.rt_with(&["exec", "c3", "probe", "fds"], |c| leak_fds(c, raw, 3..=9));
    assert!(o.status.success(), "exec: {}", stderr(&o));
    assert_eq!(report_value(&stdout(&o), "fds").as_deref(), Some("0,1,2"));
    let o = w.rt_with(
        &["exec", "--preserve-fds", "1", "c3", "probe", "fds"],
        |c| leak_fds(c, raw, 3..=9),
    );
    assert!(o.status.success(), "exec: {}", stderr(&o));
    assert_eq!(report_value(&stdout(&o), "fds").as_deref(), Some("0,1,2,3"));
    std::fs::write(host.join("host-secret-marker"), "x").expect("marker");
    let o = w.rt_with(
        &["exec", "--cwd", "/proc/self/fd/5", "c3", "ls", "-a"],
        |c| leak_fds(c, raw, 3..=9),
    );
    assert!(!stdout(&o).contains("host-secret-marker"), "{}", stdout(&o));
}

// ---------------------------------------------------------------------------
// 3c/3d. Symlinks in the image: mount destinations, /dev/null, maskedPaths
//        (CVE-2021-30465, CVE-2025-31133, CVE-2024-45310 classes).

/// A host directory and file the image's symlinks point at, and what they
/// held before the container ran.
struct HostBait {
    dir: PathBuf,
    file: PathBuf,
    missing: PathBuf,
}

impl HostBait {
    fn new(w: &World) -> HostBait {
        let dir = w.dir.join("host-target");
        std::fs::create_dir_all(&dir).expect("host dir");
        let file = w.dir.join("host-file");
        std::fs::write(&file, "HOST-SECRET\n").expect("host file");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        HostBait {
            dir,
            file,
            missing: w.dir.join("host-missing"),
        }
    }

    /// Nothing written, created or mounted on the host.
    fn assert_untouched(&self, w: &World) {
        assert_eq!(entries(&self.dir), Vec::<String>::new(), "host dir written");
        let meta = std::fs::symlink_metadata(&self.file).expect("host file");
        assert!(meta.file_type().is_file(), "host file replaced");
        assert_eq!(meta.mode() & 0o7777, 0o600, "host file mode changed");
        assert_eq!(
            std::fs::read_to_string(&self.file).unwrap_or_default(),
            "HOST-SECRET\n",
            "host file written"
        );
        assert!(
            std::fs::symlink_metadata(&self.missing).is_err(),
            "{} created on the host",
            self.missing.display()
        );
        assert!(mounts_under(&w.dir).is_empty(), "mounts left on the host");
    }
}

fn symlink(target: &Path, link: &Path) {
    if let Some(p) = link.parent() {
        std::fs::create_dir_all(p).expect("mkdir for the link");
    }
    std::os::unix::fs::symlink(target, link).expect("symlink in the image");
}

fn push_mount(b: &mut Bundle, m: Value) {
    b.config["mounts"].as_array_mut().expect("mounts").push(m);
}

/// Runs `script` in `id`; returns its output, or None when the runtime
/// refused the container (cleanly, with a message). The script's own exit
/// status does not count: a run is one whose output starts with STARTED.
fn run_or_refuse(w: &World, b: &mut Bundle, id: &str, script: &str) -> Option<String> {
    let full = format!("echo STARTED; {script}");
    b.config["process"]["args"] = json!(["sh", "-c", full]);
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), id]);
    let _ = w.rt(&["delete", "--force", id]);
    let out = stdout(&o);
    if out.starts_with("STARTED\n") {
        eprintln!("{id} ran: {out}{}", stderr(&o));
        Some(out)
    } else {
        eprintln!("{id} refused: {}", stderr(&o));
        assert!(!o.status.success(), "nothing ran, yet success: {out}");
        assert!(!stderr(&o).is_empty(), "refused without a message");
        assert!(w.root_is_empty(), "state left behind after a refusal");
        assert!(
            cgroups_named(&cgroup_name(b)).is_empty(),
            "cgroup left behind after a refusal"
        );
        None
    }
}

#[test]
fn attack_cve_2021_30465_bind_onto_symlink_to_host_path_lands_in_the_root() {
    let w = World::new("atk-30465");
    let bait = HostBait::new(&w);
    let src = w.dir.join("src");
    std::fs::create_dir_all(&src).expect("src");
    std::fs::write(src.join("payload"), "in").expect("payload");
    let mut b = w.bundle("b", &["true"]);
    let rootfs = b.rootfs();
    symlink(&bait.dir, &rootfs.join("mnt/evil"));
    // Relative, climbing out of the root.
    let up = "../".repeat(20);
    symlink(
        Path::new(&format!("{up}{}", bait.dir.display())),
        &rootfs.join("mnt/rel"),
    );
    symlink(&bait.file, &rootfs.join("mnt/f"));
    for dst in ["/mnt/evil", "/mnt/rel"] {
        push_mount(
            &mut b,
            json!({ "destination": dst, "type": "bind", "source": src, "options": ["rbind", "ro"] }),
        );
    }
    push_mount(
        &mut b,
        json!({ "destination": "/mnt/f", "type": "bind", "source": src.join("payload"), "options": ["bind"] }),
    );
    let script = "cat /mnt/evil/payload; echo; cat /mnt/rel/payload; echo; cat /mnt/f; echo";
    if let Some(out) = run_or_refuse(&w, &mut b, "c1", script) {
        // Inside the root, the symlinks resolve to where the mounts went.
        assert_eq!(out, "STARTED\nin\nin\nin\n", "{out}");
    }
    bait.assert_untouched(&w);
}

#[test]
fn attack_cve_2025_31133_image_dev_null_symlink_to_host_file() {
    let w = World::new("atk-devnull");
    let bait = HostBait::new(&w);
    let mut b = w.bundle("b", &["true"]);
    // No /dev tmpfs: the image's /dev, with /dev/null a symlink to a host
    // file, is what the runtime sees (and binds over masked paths).
    let mounts: Vec<Value> = b.config["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .filter(|m| !m["destination"].as_str().unwrap_or("").starts_with("/dev"))
        .cloned()
        .collect();
    b.config["mounts"] = json!(mounts);
    symlink(&bait.file, &b.rootfs().join("dev/null"));
    symlink(&bait.file, &b.rootfs().join("dev/zero"));
    let script = "head -c 64 /proc/kcore; cat /proc/timer_list; cat /dev/null; \
                  echo x > /dev/null; probe stat /dev/null; echo done";
    if let Some(out) = run_or_refuse(&w, &mut b, "c1", script) {
        assert!(!out.contains("HOST-SECRET"), "{out}");
        assert!(out.contains("done"), "{out}");
    }
    bait.assert_untouched(&w);
}

#[test]
fn attack_masked_paths_that_are_symlinks_to_host_paths() {
    let w = World::new("atk-masked");
    let bait = HostBait::new(&w);
    let mut b = w.bundle("b", &["true"]);
    let rootfs = b.rootfs();
    symlink(&bait.file, &rootfs.join("etc/mask-file"));
    symlink(&bait.dir, &rootfs.join("etc/mask-dir"));
    symlink(&bait.missing.join("x"), &rootfs.join("etc/mask-missing"));
    for p in ["/etc/mask-file", "/etc/mask-dir", "/etc/mask-missing"] {
        b.config["linux"]["maskedPaths"]
            .as_array_mut()
            .expect("maskedPaths")
            .push(json!(p));
    }
    b.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .expect("readonlyPaths")
        .push(json!("/etc/mask-dir"));
    let script = "cat /etc/mask-file; ls /etc/mask-dir; cat /etc/passwd";
    if let Some(out) = run_or_refuse(&w, &mut b, "c1", script) {
        assert!(!out.contains("HOST-SECRET"), "{out}");
        assert!(out.contains("root:x:0:0"), "{out}");
    }
    bait.assert_untouched(&w);
}

#[test]
fn attack_cve_2024_45310_mount_through_symlink_creates_nothing_on_the_host() {
    let w = World::new("atk-45310");
    let bait = HostBait::new(&w);
    let src = w.dir.join("src");
    std::fs::create_dir_all(&src).expect("src");
    std::fs::write(src.join("payload"), "in").expect("payload");
    let mut b = w.bundle("b", &["sh", "-c", "echo started"]);
    let rootfs = b.rootfs();
    symlink(&bait.dir, &rootfs.join("mnt/evil"));
    symlink(&bait.missing, &rootfs.join("mnt/gone"));
    let up = "../".repeat(20);
    symlink(
        Path::new(&format!("{up}{}", bait.missing.display())),
        &rootfs.join("mnt/gone-rel"),
    );
    let mounts = [
        json!({ "destination": "/mnt/evil/a/b/c", "type": "bind", "source": src, "options": ["rbind"] }),
        json!({ "destination": "/mnt/evil/file", "type": "bind", "source": src.join("payload"), "options": ["bind"] }),
        json!({ "destination": "/mnt/evil/t", "type": "tmpfs", "source": "tmpfs" }),
        json!({ "destination": "/mnt/gone/d", "type": "tmpfs", "source": "tmpfs" }),
        json!({ "destination": "/mnt/gone-rel/d/e", "type": "bind", "source": src, "options": ["rbind"] }),
        json!({ "destination": "/mnt/gone/f", "type": "bind", "source": src.join("payload"), "options": ["bind"] }),
    ];
    for m in mounts {
        push_mount(&mut b, m);
    }
    b.save();
    // In the created state every mount is prepared: look at the host then.
    let o = w.rt(&["create", "--bundle", b.path(), "c1"]);
    eprintln!("create: {}", stderr(&o));
    if o.status.success() {
        bait.assert_untouched(&w);
        let o = w.rt(&["start", "c1"]);
        assert!(o.status.success(), "start: {}", stderr(&o));
        let _ = w.rt(&["delete", "--force", "c1"]);
    } else {
        assert!(w.root_is_empty(), "state left behind after a refusal");
    }
    bait.assert_untouched(&w);
}

// ---------------------------------------------------------------------------
// 3e. Kernel knobs from a default (`spec`) container, also through exec.

/// Puts the host's core_pattern back if a test changed it.
struct CorePatternGuard(String);

impl CorePatternGuard {
    fn new() -> Self {
        CorePatternGuard(
            std::fs::read_to_string("/proc/sys/kernel/core_pattern").expect("read core_pattern"),
        )
    }

    fn changed(&self) -> bool {
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default() != self.0
    }
}

impl Drop for CorePatternGuard {
    fn drop(&mut self) {
        if self.changed() {
            let _ = std::fs::write("/proc/sys/kernel/core_pattern", self.0.trim_end());
        }
    }
}

#[test]
fn attack_kernel_knobs_from_init_and_exec_in_a_default_container() {
    let w = World::new("atk-knobs");
    let guard = CorePatternGuard::new();
    let b = w.spec_bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo '|/evil %p' > /proc/sys/kernel/core_pattern && echo written; \
             probe write /proc/sys/kernel/core_pattern; probe write /proc/sysrq-trigger",
        ],
    );
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("written"), "{out}");
    assert_eq!(out.matches("errno=").count(), 2, "{out}");
    assert!(!guard.changed(), "the host's core_pattern was changed");

    let b2 = w.spec_bundle("b2", &["sleep", "60"]);
    let o = w.rt(&["run", "-d", "--bundle", b2.path(), "c2"]);
    assert!(o.status.success(), "run -d: {}", stderr(&o));
    for cmd in [
        &["probe", "write", "/proc/sys/kernel/core_pattern"][..],
        &["probe", "write", "/proc/sysrq-trigger"][..],
        &[
            "sh",
            "-c",
            "echo '|/evil %p' > /proc/sys/kernel/core_pattern && echo written",
        ][..],
    ] {
        let mut args = vec!["exec", "c2"];
        args.extend_from_slice(cmd);
        let o = w.rt(&args);
        let out = stdout(&o);
        assert!(
            !out.contains("ok") && !out.contains("written"),
            "{cmd:?}: {out}"
        );
        if cmd[0] == "probe" {
            assert!(out.starts_with("errno="), "{cmd:?}: {out} {}", stderr(&o));
        }
    }
    let o = w.rt(&["delete", "--force", "c2"]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    assert!(!guard.changed(), "the host's core_pattern was changed");
}

// ---------------------------------------------------------------------------
// 4. Bad seccomp input through `create`.

fn bad_seccomp_bundle(w: &World, seccomp: Value) -> Bundle {
    let mut b = w.bundle("b", &["true"]);
    b.config["linux"]["seccomp"] = seccomp;
    b.save();
    b
}

#[test]
fn bad_seccomp_unknown_action_is_named_and_nothing_is_left() {
    let w = World::new("atk-bad-action");
    let b = bad_seccomp_bundle(
        &w,
        json!({ "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["getpid"], "action": "SCMP_ACT_BOGUS" }] }),
    );
    assert_create_fails_cleanly(&w, &b, "SCMP_ACT_BOGUS");
}

#[test]
fn bad_seccomp_unknown_architecture_is_named_and_nothing_is_left() {
    let w = World::new("atk-bad-arch");
    let b = bad_seccomp_bundle(
        &w,
        json!({ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_NOPE"],
                "syscalls": [{ "names": ["getpid"], "action": "SCMP_ACT_ERRNO" }] }),
    );
    assert_create_fails_cleanly(&w, &b, "SCMP_ARCH_NOPE");
}

#[test]
fn bad_seccomp_unknown_operator_is_named_and_nothing_is_left() {
    let w = World::new("atk-bad-op");
    let b = bad_seccomp_bundle(
        &w,
        json!({ "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                               "args": [{ "index": 0, "value": 1, "op": "SCMP_CMP_BOGUS" }] }] }),
    );
    assert_create_fails_cleanly(&w, &b, "SCMP_CMP_BOGUS");
}

#[test]
fn bad_seccomp_argument_index_out_of_range_is_named_and_nothing_is_left() {
    let w = World::new("atk-bad-index");
    let b = bad_seccomp_bundle(
        &w,
        json!({ "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    { "names": ["getppid"], "action": "SCMP_ACT_ALLOW" },
                    { "names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                      "args": [{ "index": 7, "value": 1, "op": "SCMP_CMP_EQ" }] }] }),
    );
    assert_create_fails_cleanly(&w, &b, "syscalls[1]");
    let o = w.rt(&["create", "--bundle", b.path(), "bad"]);
    assert!(stderr(&o).contains('7'), "{}", stderr(&o));
    assert!(w.root_is_empty());
}
