//! Test fixtures: private "host" and "container" network namespaces, the
//! plugin run the way a runtime runs it, and cleanup on drop.
//!
//! Every test runs the plugin inside a host namespace of its own, so the
//! bridges, nftables table and forwarding sysctl it touches never reach the
//! real host, and tests can run in parallel.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::Value;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn unique(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("hb-test-{tag}-{}-{n}", std::process::id())
}

pub fn cmd(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"))
}

pub fn must(args: &[&str]) -> String {
    let out = cmd(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

/// `ip netns add` makes /run/netns a mount point the first time. The tests
/// of one binary count their live namespaces and, when the last one goes,
/// undo that mount if it was not there before them.
struct NetnsDir {
    live: usize,
    was_mounted: Option<bool>,
}

static NETNS_DIR: Mutex<NetnsDir> = Mutex::new(NetnsDir {
    live: 0,
    was_mounted: None,
});

fn netns_dir_is_mounted() -> bool {
    Command::new("mountpoint")
        .args(["-q", "/run/netns"])
        .status()
        .is_ok_and(|s| s.success())
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = unique(tag);
        {
            let mut dir = NETNS_DIR.lock().unwrap_or_else(|e| e.into_inner());
            if dir.was_mounted.is_none() {
                dir.was_mounted = Some(netns_dir_is_mounted());
            }
            must(&["ip", "netns", "add", &name]);
            dir.live += 1;
        }
        let ns = Netns { name };
        must(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }

    pub fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        cmd(&full)
    }

    /// One ping; a loaded machine gets three tries before it counts as lost.
    pub fn ping(&self, addr: &str) -> bool {
        (0..3).any(|_| {
            self.exec(&["busybox", "ping", "-c1", "-W1", addr])
                .status
                .success()
        })
    }

    /// True when a single ping gets no reply (for paths that must be closed).
    pub fn no_reply(&self, addr: &str) -> bool {
        !self
            .exec(&["busybox", "ping", "-c1", "-W1", addr])
            .status
            .success()
    }

    /// Link names of a given kind (e.g. "veth") in this namespace.
    pub fn links(&self, kind: &str) -> Vec<String> {
        let out = must(&["ip", "-n", &self.name, "-j", "link", "show", "type", kind]);
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Array(vec![]));
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.get("ifname").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    /// Comments of the rules in the plugin's nftables table.
    pub fn nft_comments(&self) -> Vec<String> {
        let out = self.exec(&["nft", "-j", "list", "table", "inet", "hull-bridge"]);
        if !out.status.success() {
            return Vec::new();
        }
        let v: Value = serde_json::from_slice(&out.stdout).expect("nft json");
        v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.get("rule"))
            .filter_map(|r| r.get("comment").and_then(Value::as_str).map(str::to_string))
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let mut dir = NETNS_DIR.lock().unwrap_or_else(|e| e.into_inner());
        let _ = cmd(&["ip", "netns", "del", &self.name]);
        dir.live -= 1;
        let empty = std::fs::read_dir("/run/netns").is_ok_and(|mut d| d.next().is_none());
        if dir.live == 0 && dir.was_mounted == Some(false) && empty {
            let _ = cmd(&["umount", "-l", "/run/netns"]);
        }
    }
}

/// A scratch directory, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn str(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A child process in a process group of its own; the whole group is killed
/// on drop.
pub struct Child(pub std::process::Child);

impl Child {
    pub fn spawn(args: &[&str]) -> Child {
        use std::os::unix::process::CommandExt;
        let child = Command::new(args[0])
            .args(&args[1..])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        Child(child)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: killpg only sends a signal; the group id is our child's pid,
        // which leads its own group (process_group(0)).
        unsafe {
            libc::killpg(self.0.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

pub struct PluginOut {
    pub ok: bool,
    pub json: Value,
    pub stdout: String,
}

impl PluginOut {
    pub fn code(&self) -> u64 {
        self.json["code"].as_u64().unwrap_or(0)
    }
}

/// Runs the plugin binary as a runtime does: CNI_* env, config on stdin,
/// inside the test's host namespace.
pub fn plugin(
    host: &Netns,
    command: &str,
    id: &str,
    netns: &str,
    ifname: &str,
    conf: &[u8],
    extra_env: &[(&str, &str)],
) -> PluginOut {
    // nsenter only switches the network namespace (ip netns exec also
    // remounts /sys), which keeps hundreds of runs cheap.
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={}", host.path()))
        .arg(env!("CARGO_BIN_EXE_hull-bridge"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", "/usr/lib/cni");
    if !netns.is_empty() {
        c.env("CNI_NETNS", netns);
    }
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugin");
    // The plugin may reject its environment without reading stdin; a broken
    // pipe here is not a test failure (its exit status and stdout say it all).
    if let Err(e) = child.stdin.take().expect("stdin").write_all(conf) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    let out = child.wait_with_output().expect("plugin output");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("plugin printed non-JSON {stdout:?}: {e}"))
    };
    PluginOut {
        ok: out.status.success(),
        json,
        stdout,
    }
}

/// The container address (without prefix) from an ADD result.
pub fn ip_of(result: &Value, idx: usize) -> String {
    let a = result["ips"][idx]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("no ips[{idx}] in {result}"));
    a.split('/').next().unwrap_or_default().to_string()
}

/// Lease files (IP-named) in a host-local style store directory.
pub fn leases(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default()
}
