//! The conformance suite's harness: busybox bundles with the probe inside,
//! the runtime under test (`HULL_RUNTIME`, default target/debug/hull, or
//! runc to check the tests themselves), a private `--root` per test, and a
//! guard that removes every container and file a test made, also when it
//! fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn runtime() -> PathBuf {
    std::env::var_os("HULL_RUNTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/hull"))
}

pub fn probe() -> PathBuf {
    std::env::var_os("HULL_PROBE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/probe/hull-probe"))
}

/// One test's world: a temp dir holding bundles and the runtime's root.
pub struct World {
    pub dir: PathBuf,
    pub root: PathBuf,
    tag: String,
}

impl World {
    pub fn new(tag: &str) -> World {
        let dir = std::env::temp_dir().join(format!("hull-conf-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create test dir");
        World {
            root: dir.join("root"),
            dir,
            tag: tag.to_string(),
        }
    }

    /// Runs the runtime with `--root` and `args`, killing it after 20 s.
    pub fn rt(&self, args: &[&str]) -> Output {
        self.rt_stdin(args, None)
    }

    pub fn rt_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(runtime());
        cmd.arg("--root").arg(&self.root).args(args);
        run_with_timeout(cmd, stdin, Duration::from_secs(20))
    }

    /// Like [`World::rt`], letting `setup` change the command first (e.g.
    /// give the runtime extra inherited fds with `pre_exec`).
    pub fn rt_with(&self, args: &[&str], setup: impl FnOnce(&mut Command)) -> Output {
        let mut cmd = Command::new(runtime());
        cmd.arg("--root").arg(&self.root).args(args);
        setup(&mut cmd);
        run_with_timeout(cmd, None, Duration::from_secs(20))
    }

    /// A bundle like [`World::bundle`] but with the runtime's own default
    /// config (`spec`): no terminal, `args`, a writable root.
    pub fn spec_bundle(&self, name: &str, args: &[&str]) -> Bundle {
        let mut b = self.bundle(name, args);
        let o = Command::new(runtime())
            .args(["spec", "--bundle", b.path()])
            .output()
            .expect("spec");
        assert!(o.status.success(), "spec: {}", stderr(&o));
        let text = std::fs::read_to_string(b.dir.join("config.json")).expect("config");
        let mut config: Value = serde_json::from_str(&text).expect("spec writes JSON");
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["root"]["readonly"] = json!(false);
        config["linux"]["cgroupsPath"] = b.config["linux"]["cgroupsPath"].clone();
        b.config = config;
        b.save();
        b
    }

    /// A busybox bundle named `name` with the probe at /bin/probe.
    pub fn bundle(&self, name: &str, args: &[&str]) -> Bundle {
        let dir = self.dir.join(name);
        let rootfs = dir.join("rootfs");
        for d in ["bin", "etc", "tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs");
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
        std::fs::copy(probe(), rootfs.join("bin/probe")).expect("probe built (make probe)");
        // Another test thread forking right now holds a copy of our write
        // fd of the new busybox until its exec: ETXTBSY. Try again shortly.
        let mut tries = 0;
        loop {
            let o = Command::new("chroot")
                .arg(&rootfs)
                .args(["/bin/busybox", "--install", "-s", "/bin"])
                .output()
                .expect("chroot busybox --install");
            if o.status.success() {
                break;
            }
            tries += 1;
            let busy = String::from_utf8_lossy(&o.stderr).contains("Text file busy");
            assert!(busy && tries < 100, "busybox --install: {}", stderr(&o));
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
            .expect("passwd");
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").expect("group");
        let mut config = default_config();
        config["process"]["args"] = json!(args);
        // Tests run in parallel with the same container IDs: give each
        // bundle a cgroup of its own (relative: under the test's cgroup).
        config["linux"]["cgroupsPath"] = json!(format!(
            "hull-conf-{}-{name}-{}",
            self.tag,
            std::process::id()
        ));
        Bundle { dir, config }
    }

    pub fn state(&self, id: &str) -> Value {
        let o = self.rt(&["state", id]);
        assert!(o.status.success(), "state {id}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).expect("state is JSON")
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or("").to_string()
    }

    /// Waits up to 5 s for `id` to reach `status`.
    pub fn wait_status(&self, id: &str, status: &str) -> bool {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if self.status(id) == status {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Whether the state directory under --root is empty (nothing left).
    pub fn root_is_empty(&self) -> bool {
        std::fs::read_dir(&self.root).map_or(true, |mut d| d.next().is_none())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.rt(&["delete", "--force", &id]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn path(&self) -> &str {
        self.dir.to_str().unwrap_or("")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn save(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("config");
        std::fs::write(self.dir.join("config.json"), text).expect("write config");
    }
}

/// runc's default config (as `runc spec` writes it) with a writable root
/// and no terminal: the base every test edits.
pub fn default_config() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "conformance",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// `hooks` with every lifecycle hook of container `id`: each appends its
/// name to `host_log` (or `<name>-nostate` when its stdin lacks the
/// container's state); startContainer runs inside the container and
/// appends to the container's own /start.log.
pub fn logging_hooks(id: &str, host_log: &Path) -> Value {
    let hook_to = |name: &str, log: &str| {
        json!({ "path": "/bin/sh", "args": ["sh", "-c", format!(
            "read -r s; case \"$s\" in *'\"id\":\"{id}\"'*) echo {name} >> {log};; \
             *) echo {name}-nostate >> {log};; esac")] })
    };
    let host_log = host_log.display().to_string();
    let hook = |name: &str| hook_to(name, &host_log);
    json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "startContainer": [hook_to("startContainer", "/start.log")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")]
    })
}

/// The host-side hooks of [`logging_hooks`] in the order runtime.md runs
/// them.
pub const HOST_HOOK_ORDER: [&str; 5] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "poststart",
    "poststop",
];

/// The PID a `--pid-file` holds, as the JSON number `state` shows (-1 when
/// the file is missing or not a number).
pub fn pid_in_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    json!(text.trim().parse::<i64>().unwrap_or(-1))
}

/// After a failed command: no state directory, the host's mount table
/// under the test's directory as it was `before` (nothing mounted, nothing
/// propagated into it, nothing unmounted), no cgroup named by its
/// cgroupsPath.
pub fn assert_nothing_left(w: &World, b: &Bundle, before: &HostMounts) {
    assert!(
        w.root_is_empty(),
        "state left behind in {}",
        w.root.display()
    );
    before.assert_unchanged("after the failed command");
    if let Some(cg) = b.config["linux"]["cgroupsPath"].as_str() {
        let left = cgroups_named(cg);
        assert!(left.is_empty(), "cgroups left behind: {left:?}");
    }
}

/// `create` fails naming `needle`, and leaves nothing behind.
pub fn assert_create_fails_cleanly(w: &World, b: &Bundle, needle: &str) {
    assert_create_with_fails_cleanly(w, b, &[], needle);
}

/// [`assert_create_fails_cleanly`] with extra `create` flags (`--no-pivot`,
/// `--pid-file`...).
pub fn assert_create_with_fails_cleanly(w: &World, b: &Bundle, flags: &[&str], needle: &str) {
    let before = HostMounts::under(&w.dir);
    let mut args = vec!["create", "--bundle", b.path()];
    args.extend_from_slice(flags);
    args.push("bad");
    let o = w.rt(&args);
    assert!(!o.status.success(), "create succeeded");
    assert!(
        stderr(&o).contains(needle),
        "error should name {needle:?}: {}",
        stderr(&o)
    );
    assert_nothing_left(w, b, &before);
}

/// The host's mount table (this process's /proc/self/mountinfo) at and
/// under a directory: what a container's mount namespace must not change
/// there, even when the directory is a shared mount and a mount made in
/// the container would propagate back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMounts {
    dir: PathBuf,
    lines: Vec<String>,
}

impl HostMounts {
    pub fn under(dir: &Path) -> HostMounts {
        HostMounts {
            dir: dir.to_owned(),
            lines: mountinfo_under(dir),
        }
    }

    /// Panics, listing what appeared and what went, when the mount table
    /// under the directory is no longer what it was.
    pub fn assert_unchanged(&self, when: &str) {
        let now = mountinfo_under(&self.dir);
        let added: Vec<_> = now.iter().filter(|l| !self.lines.contains(l)).collect();
        let gone: Vec<_> = self.lines.iter().filter(|l| !now.contains(l)).collect();
        assert!(
            added.is_empty() && gone.is_empty(),
            "the host's mounts under {} changed {when}:\nnew: {added:#?}\ngone: {gone:#?}",
            self.dir.display()
        );
    }
}

/// The /proc/self/mountinfo lines whose mount point is `dir` or under it.
fn mountinfo_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split_whitespace().nth(4).is_some_and(|m| {
                m.strip_prefix(dir.as_ref())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        })
        .map(str::to_string)
        .collect()
}

/// Host mounts a test made under a directory: detached, deepest first,
/// when dropped, also when the test fails.
pub struct UnmountUnder(pub PathBuf);

impl Drop for UnmountUnder {
    fn drop(&mut self) {
        for m in mounts_under(&self.0).iter().rev() {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
    }
}

/// A test's directory made a shared mount (see [`SharedHost::new`]);
/// unmounted, with everything on it, when dropped.
pub struct SharedHost {
    _unmount: UnmountUnder,
}

impl SharedHost {
    /// Makes `dir` (a test's [`World::dir`]) a shared mount, a bind of
    /// itself, as `/` is on systemd hosts (containerd's and Kubernetes'):
    /// a mount a container makes on a copy of it that stayed shared shows
    /// in the host. Declare it after the World, so that it is dropped
    /// first.
    pub fn new(dir: &Path) -> SharedHost {
        let guard = SharedHost {
            _unmount: UnmountUnder(dir.to_owned()),
        };
        bind_onto_itself(dir);
        mount_cmd(&["--make-shared", &dir.to_string_lossy()]);
        guard
    }
}

/// Makes `path` a mount point, a bind of itself.
pub fn bind_onto_itself(path: &Path) {
    let p = path.to_string_lossy();
    mount_cmd(&["--bind", &p, &p]);
}

/// Makes the bundle's rootfs an overlay mount whose lower layer is what was
/// there, as containerd's rootfs always is (under a [`SharedHost`] it is
/// shared, as containerd's is on a systemd host). The layers sit next to
/// the rootfs; [`SharedHost`] unmounts it.
pub fn overlay_rootfs(b: &Bundle) {
    let rootfs = b.rootfs();
    let layer = |name: &str| b.dir.join(format!("rootfs.{name}"));
    std::fs::rename(&rootfs, layer("lower")).expect("move the rootfs to the lower layer");
    for d in [rootfs.clone(), layer("upper"), layer("work")] {
        std::fs::create_dir_all(&d).expect("mkdir overlay dirs");
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        layer("lower").display(),
        layer("upper").display(),
        layer("work").display()
    );
    mount_cmd(&[
        "-t",
        "overlay",
        "overlay",
        "-o",
        &opts,
        &rootfs.to_string_lossy(),
    ]);
}

/// Runs mount(8) with `args`; panics with its error when it fails.
pub fn mount_cmd(args: &[&str]) {
    let o = Command::new("mount").args(args).output().expect("mount(8)");
    assert!(o.status.success(), "mount {args:?}: {}", stderr(&o));
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Cgroup directories named `name` (a bundle's relative cgroupsPath) in any
/// hierarchy under /sys/fs/cgroup: what a container left behind.
pub fn cgroups_named(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, name: &str, depth: u32, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            // Directories only, never through symlinks (cpu -> cpu,cpuacct).
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = e.path();
            if e.file_name().to_str() == Some(name) {
                found.push(path.clone());
            }
            if depth > 0 {
                walk(&path, name, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), name, 8, &mut found);
    found
}

/// The containers' default seccomp profile (/usr/share/containers/seccomp.json)
/// as podman writes it into config.json for a container with `caps`
/// (hull-seccomp's converter, tested against podman's rules in that crate).
/// Panics, saying what to install, when the file is missing.
pub fn containers_seccomp(caps: &[&str]) -> Value {
    const PATH: &str = "/usr/share/containers/seccomp.json";
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| {
        panic!(
            "{PATH}: {e}: install the containers' default seccomp profile \
             (Debian: apt-get install golang-github-containers-common, a dependency of podman)"
        )
    });
    let profile = hull_seccomp::from_containers_profile(&text, caps)
        .unwrap_or_else(|e| panic!("{PATH}: {e}"));
    serde_json::to_value(profile).expect("a profile serialises")
}

/// `key=value` lines of the probe's report.
pub fn report_value(report: &str, key: &str) -> Option<String> {
    report
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Mount points under `path` still in this process's mount table.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let p = path.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(p.as_ref()))
        .map(str::to_string)
        .collect()
}

/// Runs `cmd` with its output in files (a container started by it keeps
/// them open: pipes would never reach EOF) and kills it after `limit`.
fn run_with_timeout(mut cmd: Command, stdin: Option<&str>, limit: Duration) -> Output {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let base = std::env::temp_dir().join(format!("hull-conf-out-{}-{n}", std::process::id()));
    let (out_path, err_path) = (base.with_extension("out"), base.with_extension("err"));
    let out_file = std::fs::File::create(&out_path).expect("stdout file");
    let err_file = std::fs::File::create(&err_path).expect("stderr file");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(out_file)
    .stderr(err_file);
    let mut child = cmd.spawn().expect("spawn the runtime");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(text.as_bytes());
    }
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for the runtime") {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let st = child.wait().expect("reap the runtime");
            break std::process::ExitStatus::from_raw(st.into_raw());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    out
}
