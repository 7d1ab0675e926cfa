//! hull-cgroups: cgroup v1, v2 and hybrid management for hull.
//!
//! A small hand-written cgroupfs layer (see docs/cgroups.md): [`Manager`]
//! creates the container's cgroup in every hierarchy, applies
//! `linux.resources`, freezes, lists, signals, reports statistics and removes it.

mod error;
mod fs;
mod layout;
mod stats;
mod v1;
mod v2;
mod v2_devices;

pub use error::CgroupError;
pub use layout::{detect, Layout};
pub use stats::{
    Blkio, BlkioEntry, Cpu, CpuSet, CpuUsage, Hugetlb, Memory, MemoryEntry, Pids, Stats, Throttling,
};
pub use v2::{blkio_weight_to_io, shares_to_weight, swap_max};

use layout::CGROUP_ROOT;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a new process gets into the container's cgroup: cloned straight into
/// the cgroup2 one (`CLONE_INTO_CGROUP`), and it moves itself into every v1
/// hierarchy by writing "0" to `tasks` first thing after the clone.
///
/// Why not the parent writing the child's PID to `cgroup.procs`, as runc
/// does: moving another process takes `cgroup_threadgroup_rwsem` for
/// writing, which waits for an RCU grace period, 7 to 15 ms on this kind of
/// machine for the first write of every container. A single-threaded
/// process moving itself thread by thread does not take that lock (Linux
/// skips it when the moving thread is `current`), and `CLONE_INTO_CGROUP`
/// only takes it for reading. The `tasks` files are opened by the parent, so
/// the kernel checks the parent's credentials, also when the child is
/// already in a new user namespace.
pub struct Placement {
    /// cgroup2 directory fd for `clone3(CLONE_INTO_CGROUP)`.
    pub clone_into: Option<OwnedFd>,
    v1_tasks: Vec<(PathBuf, OwnedFd)>,
}

impl Placement {
    /// The v1 part alone, from [`Manager::v1_tasks`] (sent to the child).
    pub fn from_v1_tasks(v1_tasks: Vec<(PathBuf, OwnedFd)>) -> Placement {
        Placement {
            clone_into: None,
            v1_tasks,
        }
    }

    /// In the new (single-threaded) process, before anything else: joins
    /// every v1 hierarchy. Only write(2)s: fine right after a fork.
    pub fn join_v1(&self) -> Result<(), CgroupError> {
        for (path, fd) in &self.v1_tasks {
            nix::unistd::write(fd, b"0").map_err(|e| CgroupError::Write {
                path: path.clone(),
                value: "0".into(),
                source: e.into(),
            })?;
        }
        Ok(())
    }
}

/// Everything needed to find a container's cgroup again (kept in state.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupPaths {
    pub layout: Layout,
    /// v1: controller name ("cpu", "memory", "name=systemd", ...) to the
    /// cgroup directory; co-mounted controllers share a directory.
    #[serde(default)]
    pub v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 directory (pure v2, or the unified hierarchy of hybrid).
    #[serde(default)]
    pub unified: Option<PathBuf>,
}

impl CgroupPaths {
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1.get(controller).map(PathBuf::as_path)
    }

    /// Every distinct directory, v1 ones first.
    pub fn dirs(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        for d in self.v1.values().chain(self.unified.iter()) {
            if !out.contains(&d.as_path()) {
                out.push(d);
            }
        }
        out
    }

    /// The directory whose cgroup.procs lists the container's processes.
    fn procs_dir(&self) -> Option<&Path> {
        match self.layout {
            Layout::V2 => self.unified.as_deref(),
            _ => ["freezer", "pids", "memory", "cpu", "devices"]
                .iter()
                .find_map(|c| self.v1_dir(c))
                .or_else(|| self.v1.values().next().map(PathBuf::as_path)),
        }
    }
}

pub struct Manager {
    paths: CgroupPaths,
    /// Hierarchy roots, to stop cpuset initialisation and subtree_control at.
    roots: BTreeMap<PathBuf, PathBuf>,
    /// /proc/self/mountinfo as [`Manager::new`] read it (v1 and hybrid).
    mountinfo: Option<String>,
}

fn hierarchy_root(p: &Path, layout: Layout) -> PathBuf {
    // Directory under /sys/fs/cgroup/<name> (v1, hybrid unified) or /sys/fs/cgroup (v2).
    let base = Path::new(CGROUP_ROOT);
    match p
        .strip_prefix(base)
        .ok()
        .and_then(|r| r.components().next())
    {
        Some(first) if layout != Layout::V2 => base.join(first),
        _ => base.to_path_buf(),
    }
}

impl Manager {
    /// Resolves `cgroups_path` (absolute: from each hierarchy root; relative,
    /// or None meaning `id`: below the caller's own cgroup, like runc).
    pub fn new(cgroups_path: Option<&str>, id: &str) -> Result<Self, CgroupError> {
        let inner = match cgroups_path.filter(|p| !p.is_empty()) {
            Some(p) => {
                if !p.starts_with('/') && p.split(':').count() == 3 {
                    return Err(CgroupError::Systemd(p.to_string()));
                }
                p.to_string()
            }
            None => id.to_string(),
        };
        if inner.split('/').any(|c| c == "..") || inner.trim_matches('/').is_empty() {
            return Err(CgroupError::BadPath(inner));
        }
        let layout = detect()?;
        let own = layout::own_cgroups()?;
        let mut paths = CgroupPaths {
            layout,
            v1: BTreeMap::new(),
            unified: None,
        };
        let mut roots = BTreeMap::new();
        let mut mountinfo = None;
        if layout != Layout::V2 {
            let text = mountinfo.insert(layout::read_mountinfo()?);
            for m in layout::v1_mounts(text) {
                let key = m.controllers.join(",");
                let own_path = own.get(&key).map(String::as_str);
                let cg = layout::resolve(&inner, own_path);
                let dir = layout::join_under(&m.mountpoint, &m.root, &cg);
                roots.insert(dir.clone(), m.mountpoint.clone());
                for c in &m.controllers {
                    paths.v1.insert(c.clone(), dir.clone());
                }
            }
        }
        if layout != Layout::V1 {
            let mnt = if layout == Layout::V2 {
                PathBuf::from(CGROUP_ROOT)
            } else {
                PathBuf::from(format!("{CGROUP_ROOT}/unified"))
            };
            let cg = layout::resolve(&inner, own.get("").map(String::as_str));
            let dir = layout::join_under(&mnt, "/", &cg);
            roots.insert(dir.clone(), mnt);
            paths.unified = Some(dir);
        }
        if paths.v1.is_empty() && paths.unified.is_none() {
            return Err(CgroupError::NoHierarchy);
        }
        Ok(Manager {
            paths,
            roots,
            mountinfo,
        })
    }

    pub fn from_paths(p: CgroupPaths) -> Self {
        let roots = p
            .dirs()
            .into_iter()
            .map(|d| (d.to_path_buf(), hierarchy_root(d, p.layout)))
            .collect();
        Manager {
            paths: p,
            roots,
            mountinfo: None,
        }
    }

    pub fn paths(&self) -> &CgroupPaths {
        &self.paths
    }

    /// The /proc/self/mountinfo that [`Manager::new`] read to find the v1
    /// hierarchies (None on pure v2). `create`'s init lists the hierarchies
    /// for its cgroup mounts from it: its mount namespace is a copy of this
    /// one, and reading its own costs a procfs walk on the critical path.
    pub fn mountinfo(&self) -> Option<&str> {
        self.mountinfo.as_deref()
    }

    fn root_of(&self, d: &Path) -> PathBuf {
        self.roots
            .get(d)
            .cloned()
            .unwrap_or_else(|| hierarchy_root(d, self.paths.layout))
    }

    /// Creates the cgroup in every hierarchy; an existing one is joined as is.
    pub fn create(&self) -> Result<(), CgroupError> {
        self.create_unified()?;
        self.create_v1()
    }

    /// The cgroup2 part of [`Manager::create`] (pure v2, or the unified
    /// hierarchy of hybrid): what `clone3(CLONE_INTO_CGROUP)` needs.
    pub fn create_unified(&self) -> Result<(), CgroupError> {
        let Some(d) = &self.paths.unified else {
            return Ok(());
        };
        if self.paths.layout == Layout::V2 {
            self.enable_controllers(d)?;
        }
        std::fs::create_dir_all(d).map_err(|source| CgroupError::Create {
            path: d.to_path_buf(),
            source,
        })
    }

    /// The v1 part of [`Manager::create`]. `create` makes these while the
    /// init makes its mounts; the init joins them afterwards.
    pub fn create_v1(&self) -> Result<(), CgroupError> {
        for d in self.v1_dirs() {
            std::fs::create_dir_all(d).map_err(|source| CgroupError::Create {
                path: d.to_path_buf(),
                source,
            })?;
        }
        if let Some(d) = self.paths.v1_dir("cpuset") {
            v1::init_cpuset(d, &self.root_of(d))?;
        }
        Ok(())
    }

    fn v1_dirs(&self) -> Vec<&Path> {
        let unified = self.paths.unified.as_deref();
        self.paths
            .dirs()
            .into_iter()
            .filter(|d| Some(*d) != unified)
            .collect()
    }

    /// v2: the cgroup's controllers must be enabled in every ancestor's
    /// cgroup.subtree_control. Best effort: an ancestor with processes of its
    /// own refuses (no internal processes rule) and the caller sees the
    /// missing file when applying the resource.
    fn enable_controllers(&self, leaf: &Path) -> Result<(), CgroupError> {
        let root = self.root_of(leaf);
        let mut chain: Vec<&Path> = leaf
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&root))
            .collect();
        chain.reverse();
        for dir in chain {
            std::fs::create_dir_all(dir).map_err(|source| CgroupError::Create {
                path: dir.to_path_buf(),
                source,
            })?;
            let avail = fs::read(dir, "cgroup.controllers")?;
            let enabled = fs::read(dir, "cgroup.subtree_control")?;
            for c in avail.split_whitespace() {
                if !enabled.split_whitespace().any(|e| e == c) {
                    let _ = fs::write(dir, "cgroup.subtree_control", &format!("+{c}"));
                }
            }
        }
        Ok(())
    }

    /// How a new process enters this cgroup without its PID being written
    /// to `cgroup.procs` (see [`Placement`]). Opened by the parent, before
    /// the clone.
    pub fn placement(&self) -> Result<Placement, CgroupError> {
        Ok(Placement {
            clone_into: self.v2_dir_fd(),
            v1_tasks: self.v1_tasks()?,
        })
    }

    /// [`Manager::placement`] without the v1 hierarchies, for a child that
    /// joins them later (through [`Manager::v1_tasks`], sent to it).
    pub fn clone_placement(&self) -> Placement {
        Placement {
            clone_into: self.v2_dir_fd(),
            v1_tasks: Vec::new(),
        }
    }

    /// The `tasks` file of every v1 hierarchy's cgroup, opened for writing.
    pub fn v1_tasks(&self) -> Result<Vec<(PathBuf, OwnedFd)>, CgroupError> {
        let mut v1_tasks = Vec::new();
        for d in self.v1_dirs() {
            let path = d.join("tasks");
            let fd = nix::fcntl::open(
                path.as_path(),
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| CgroupError::Write {
                path: path.clone(),
                value: "0".into(),
                source: e.into(),
            })?;
            v1_tasks.push((path, fd));
        }
        Ok(v1_tasks)
    }

    /// A directory fd of the cgroup2 cgroup (pure v2, or the unified
    /// hierarchy of hybrid) for clone3(CLONE_INTO_CGROUP).
    pub fn v2_dir_fd(&self) -> Option<OwnedFd> {
        let d = self.paths.unified.as_ref()?;
        nix::fcntl::open(
            d.as_path(),
            nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC
                | nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .ok()
    }

    /// Moves `pid` (a whole process) into the cgroup in every hierarchy.
    pub fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        for d in self.paths.dirs() {
            fs::write(d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// Applies `linux.resources`; on hybrid the v1 controllers do the work
    /// and unified keys go to the cgroup2 directory.
    pub fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        match (self.paths.layout, &self.paths.unified) {
            (Layout::V2, Some(d)) => v2::apply(d, r),
            (Layout::Hybrid, Some(d)) => {
                let mut v1_only = r.clone();
                v1_only.set_unified(None);
                v1::apply(&self.paths, &v1_only)?;
                v2::unified(d, r)
            }
            _ => v1::apply(&self.paths, r),
        }
    }

    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn freezer(&self) -> Result<(&Path, bool), CgroupError> {
        match (
            self.paths.layout,
            &self.paths.unified,
            self.paths.v1_dir("freezer"),
        ) {
            (Layout::V2, Some(d), _) => Ok((d, true)),
            (_, _, Some(d)) => Ok((d, false)),
            _ => Err(CgroupError::Unsupported {
                field: "pause/resume",
                controller: "freezer",
                detail: v1::no_hierarchy("freezer"),
            }),
        }
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (d, v2) = self.freezer()?;
        if v2 {
            fs::write(d, "cgroup.freeze", if frozen { "1" } else { "0" })?;
        } else {
            fs::write(d, "freezer.state", if frozen { "FROZEN" } else { "THAWED" })?;
        }
        // Freezing completes asynchronously; wait until the kernel says so.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.is_frozen()? == frozen {
                return Ok(());
            }
            if Instant::now() > deadline {
                let what = if frozen { "freeze" } else { "thaw" };
                return Err(CgroupError::Timeout(format!("{what} of {}", d.display())));
            }
            if !v2 && frozen {
                // A v1 freeze can stall in FREEZING; writing again retries it.
                fs::write(d, "freezer.state", "FROZEN")?;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        let (d, v2) = self.freezer()?;
        if v2 {
            Ok(fs::read_kv(d, "cgroup.events")?.get("frozen") == Some(&1))
        } else {
            Ok(fs::read(d, "freezer.state")?.trim() == "FROZEN")
        }
    }

    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        match self.paths.procs_dir() {
            Some(d) => fs::procs(d),
            None => Ok(Vec::new()),
        }
    }

    /// Signals every process: v2 SIGKILL through cgroup.kill; otherwise
    /// freeze (so nothing forks in between), signal each pid, thaw.
    pub fn kill_all(&self, sig: i32) -> Result<(), CgroupError> {
        if let (Layout::V2, Some(d)) = (self.paths.layout, &self.paths.unified) {
            if sig == libc::SIGKILL && fs::exists(d, "cgroup.kill") {
                return fs::write(d, "cgroup.kill", "1");
            }
        }
        // A paused container stays paused, except for SIGKILL, which a
        // frozen task only acts on once thawed.
        let was_frozen = self.freezer().is_ok() && self.is_frozen().unwrap_or(false);
        let froze = !was_frozen && self.freezer().is_ok() && self.freeze().is_ok();
        let res = self.signal_each(sig);
        if froze || (was_frozen && sig == libc::SIGKILL) {
            self.thaw()?;
        }
        res
    }

    fn signal_each(&self, sig: i32) -> Result<(), CgroupError> {
        let signal =
            nix::sys::signal::Signal::try_from(sig).map_err(|source| CgroupError::Signal {
                pid: 0,
                sig,
                source,
            })?;
        for pid in self.pids()? {
            match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(source) => return Err(CgroupError::Signal { pid, sig, source }),
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> Result<Stats, CgroupError> {
        stats::collect(&self.paths)
    }

    /// How many processes the OOM killer has killed in this cgroup
    /// (`oom_kill` of memory.events on v2, of memory.oom_control on v1);
    /// `events` reports an OOM whenever it grows.
    pub fn oom_kills(&self) -> Result<u64, CgroupError> {
        let (dir, file) = match (self.paths.layout, &self.paths.unified) {
            (Layout::V2, Some(d)) => (d.as_path(), "memory.events"),
            _ => match self.paths.v1_dir("memory") {
                Some(d) => (d, "memory.oom_control"),
                None => return Ok(0),
            },
        };
        Ok(fs::read_kv(dir, file)?
            .get("oom_kill")
            .copied()
            .unwrap_or(0))
    }

    /// Kills what is left, then removes the cgroup (and any child cgroups)
    /// in every hierarchy. A cgroup that is already gone is fine.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let alive = self.paths.dirs().iter().any(|d| d.exists());
        if alive && !self.pids()?.is_empty() {
            self.kill_all(libc::SIGKILL)?;
            let deadline = Instant::now() + Duration::from_secs(2);
            while !self.pids()?.is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut first_err = None;
        for d in self.paths.dirs() {
            if let Err(e) = fs::remove_tree(d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
