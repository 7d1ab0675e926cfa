//! Shared helpers for the real-kernel tests (host hybrid/v1 and the v2 VM).
#![allow(dead_code)]

use hull_cgroups::{CgroupPaths, Manager};
use oci_spec::runtime::LinuxResources;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static N: AtomicUsize = AtomicUsize::new(0);

pub fn unique_path() -> String {
    format!(
        "/hull-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn res(v: serde_json::Value) -> LinuxResources {
    serde_json::from_value(v).expect("test resources are valid JSON for LinuxResources")
}

/// Owns a test cgroup and its children; kills and removes everything on drop.
pub struct Guard {
    pub mgr: Manager,
    pub children: Vec<Child>,
}

impl Guard {
    pub fn new() -> Guard {
        let mgr = Manager::new(Some(&unique_path()), "t").expect("Manager::new");
        let g = Guard {
            mgr,
            children: Vec::new(),
        };
        g.mgr.create().expect("create");
        g
    }

    pub fn paths(&self) -> CgroupPaths {
        self.mgr.paths().clone()
    }

    /// Spawns `sh -c script` blocked on `read`, adds it, returns its index.
    pub fn spawn_gated(&mut self, script: &str) -> usize {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("read _gate; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        self.mgr.add_task(child.id() as i32).expect("add_task");
        self.children.push(child);
        self.children.len() - 1
    }

    pub fn release(&mut self, i: usize) {
        let stdin = self.children[i].stdin.as_mut().expect("piped stdin");
        stdin.write_all(b"go\n").expect("release child");
    }

    pub fn pid(&self, i: usize) -> i32 {
        self.children[i].id() as i32
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.mgr.thaw();
        let _ = self.mgr.destroy();
    }
}

pub fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// The state letter of /proc/<pid>/stat.
pub fn proc_state(pid: i32) -> char {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after = s.rsplit_once(')').expect("stat has comm").1;
    after.trim_start().chars().next().expect("state letter")
}

pub fn wait_for(mut f: impl FnMut() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
