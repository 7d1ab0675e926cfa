//! Which cgroup layout the host has, where each hierarchy is mounted, and
//! where a cgroups path lands in each of them.

use crate::CgroupError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Only v1 hierarchies.
    V1,
    /// One cgroup2 hierarchy at /sys/fs/cgroup.
    V2,
    /// v1 controllers plus an (empty) cgroup2 at /sys/fs/cgroup/unified.
    Hybrid,
}

fn fs_magic(path: &str) -> Result<i64, CgroupError> {
    let st = nix::sys::statfs::statfs(path).map_err(|source| CgroupError::Statfs {
        path: PathBuf::from(path),
        source,
    })?;
    Ok(st.filesystem_type().0 as i64)
}

/// Detects the layout from the filesystem types under /sys/fs/cgroup.
pub fn detect() -> Result<Layout, CgroupError> {
    let root = fs_magic(CGROUP_ROOT)?;
    if root == CGROUP2_SUPER_MAGIC {
        return Ok(Layout::V2);
    }
    let unified = format!("{CGROUP_ROOT}/unified");
    if root == TMPFS_MAGIC && matches!(fs_magic(&unified), Ok(m) if m == CGROUP2_SUPER_MAGIC) {
        return Ok(Layout::Hybrid);
    }
    Ok(Layout::V1)
}

/// A mounted v1 hierarchy: its mount point, the cgroup path at the mount's
/// root (not "/" inside a cgroup namespace or a bind mount) and controllers.
#[derive(Debug, Clone)]
pub(crate) struct V1Mount {
    pub mountpoint: PathBuf,
    pub root: String,
    pub controllers: Vec<String>,
}

/// v1 hierarchies from /proc/self/mountinfo, first mount of each wins.
pub(crate) fn read_mountinfo() -> Result<String, CgroupError> {
    let path = Path::new("/proc/self/mountinfo");
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn v1_mounts(text: &str) -> Vec<V1Mount> {
    let mut out: Vec<V1Mount> = Vec::new();
    for line in text.lines() {
        // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split_whitespace();
        if r.next() != Some("cgroup") {
            continue;
        }
        let superopts = r.nth(1).unwrap_or("");
        let l: Vec<&str> = left.split_whitespace().collect();
        if l.len() < 5 {
            continue;
        }
        let controllers: Vec<String> = superopts
            .split(',')
            .filter(|o| o.starts_with("name=") || crate::v1::is_controller(o))
            .map(str::to_string)
            .collect();
        if controllers.is_empty() || out.iter().any(|m| m.controllers == controllers) {
            continue;
        }
        out.push(V1Mount {
            mountpoint: PathBuf::from(unescape(l[4])),
            root: unescape(l[3]),
            controllers,
        });
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The calling process' cgroup per hierarchy from /proc/self/cgroup: key is
/// the controller list as written there ("cpu,cpuacct", "name=systemd", "" for v2).
pub(crate) fn own_cgroups() -> Result<BTreeMap<String, String>, CgroupError> {
    let path = Path::new("/proc/self/cgroup");
    let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        if let (Some(_), Some(ctrls), Some(p)) = (it.next(), it.next(), it.next()) {
            out.insert(ctrls.to_string(), p.to_string());
        }
    }
    Ok(out)
}

/// Joins a cgroup path below a hierarchy: `mountpoint + (path - mount root)`.
pub(crate) fn join_under(mountpoint: &Path, mount_root: &str, cg: &str) -> PathBuf {
    let rel = cg
        .strip_prefix(mount_root)
        .filter(|_| mount_root != "/")
        .unwrap_or(cg);
    let mut p = mountpoint.to_path_buf();
    for c in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
        p.push(c);
    }
    p
}

/// Resolves the cgroup path inside one hierarchy, the way runc does:
/// absolute paths are taken from the hierarchy root; relative ones (and the
/// default, the container id) go below the caller's own cgroup.
pub(crate) fn resolve(inner: &str, own: Option<&str>) -> String {
    if inner.starts_with('/') {
        inner.to_string()
    } else {
        let base = own.unwrap_or("/").trim_end_matches('/');
        format!("{base}/{inner}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_runc() {
        assert_eq!(resolve("/a/b", Some("/own")), "/a/b");
        assert_eq!(resolve("ctr", Some("/own/")), "/own/ctr");
        assert_eq!(resolve("ctr", Some("/")), "/ctr");
        let m = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(
            join_under(m, "/", "/x/y"),
            Path::new("/sys/fs/cgroup/memory/x/y")
        );
        // A mount whose root is a sub-cgroup (cgroup namespace, bind mount).
        assert_eq!(
            join_under(m, "/pod", "/pod/ctr"),
            Path::new("/sys/fs/cgroup/memory/ctr")
        );
    }
}
