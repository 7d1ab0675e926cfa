//! Address management: a built-in allocator whose on-disk store is the one
//! the reference `host-local` plugin uses, and delegation to IPAM plugins.
//!
//! Store layout (`<dataDir>/<network>/`): one file per leased IP, named by the
//! IP and holding `<containerID>\r\n<ifname>`; `last_reserved_ip.<set>` with
//! the last address handed out from range set `<set>`; every change happens
//! under an exclusive flock on the file `lock`.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{Flock, FlockArg};

use crate::cni_error::{self, CniError};
use crate::config::{Attachment, IpamConf, RangeConf};
use crate::env::CniEnv;
use crate::ipnet::{self, IpNet};
use crate::result::{IpConfig, Route};

#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("lock {path}: {errno}")]
    Lock {
        path: PathBuf,
        errno: nix::errno::Errno,
    },
    #[error("no free address left in range set {set} ({ranges})")]
    Exhausted { set: usize, ranges: String },
    #[error("IPAM plugin {0:?} not found in CNI_PATH")]
    PluginNotFound(String),
    #[error("IPAM plugin {plugin}: {source}")]
    PluginExec {
        plugin: String,
        #[source]
        source: io::Error,
    },
    #[error("IPAM plugin {plugin} printed no valid JSON: {output:?}")]
    PluginOutput { plugin: String, output: String },
}

impl From<IpamError> for CniError {
    fn from(e: IpamError) -> Self {
        let code = match e {
            IpamError::Exhausted { .. } => cni_error::POOL_EXHAUSTED,
            IpamError::PluginNotFound(_) => cni_error::INVALID_CONFIG,
            IpamError::Lock { .. } => cni_error::TRY_AGAIN,
            _ => cni_error::IO_FAILURE,
        };
        CniError::new(code, "IPAM failed", e.to_string())
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> IpamError + '_ {
    move |source| IpamError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The lease store of one network, locked for the lifetime of this value.
pub struct Store {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store, IpamError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| IpamError::Lock {
                path: lock_path.clone(),
                errno,
            })?;
        Ok(Store {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// All leases: (ip, container id, ifname).
    pub fn leases(&self) -> Result<Vec<(IpAddr, String, String)>, IpamError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let name = entry.file_name();
            let Some(ip) = name.to_str().and_then(|n| n.parse::<IpAddr>().ok()) else {
                continue;
            };
            let path = entry.path();
            let mut text = String::new();
            match File::open(&path).and_then(|mut f| f.read_to_string(&mut text)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&path)(e)),
            }
            let mut lines = text.lines().map(str::trim);
            let id = lines.next().unwrap_or_default().to_string();
            let ifname = lines.next().unwrap_or_default().to_string();
            out.push((ip, id, ifname));
        }
        Ok(out)
    }

    fn remove_lease(&self, ip: &IpAddr) -> Result<(), IpamError> {
        let path = self.dir.join(ip.to_string());
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&path)(e)),
            _ => Ok(()),
        }
    }

    /// Allocates one address per range set for (id, ifname), reusing leases
    /// the attachment already holds.
    pub fn allocate(
        &self,
        sets: &[Vec<RangeConf>],
        reserved: &[IpAddr],
        id: &str,
        ifname: &str,
    ) -> Result<Vec<IpConfig>, IpamError> {
        let leases = self.leases()?;
        let taken: HashSet<IpAddr> = leases.iter().map(|l| l.0).collect();
        let mut out = Vec::new();
        let mut created = Vec::new();
        for (set_idx, set) in sets.iter().enumerate() {
            let mine = leases.iter().find(|(ip, lid, lif)| {
                lid == id && lif == ifname && set.iter().any(|r| r.subnet.contains(ip))
            });
            let result = match mine {
                Some((ip, _, _)) => Ok(*ip),
                None => self.pick(set_idx, set, reserved, &taken, id, ifname),
            };
            let ip = match result {
                Ok(ip) => ip,
                Err(e) => {
                    // Nothing half-made: give back what this call took.
                    for ip in &created {
                        let _ = self.remove_lease(ip);
                    }
                    return Err(e);
                }
            };
            if mine.is_none() {
                created.push(ip);
            }
            let range = set
                .iter()
                .find(|r| r.subnet.contains(&ip))
                .unwrap_or(&set[0]);
            out.push(IpConfig {
                address: IpNet {
                    addr: ip,
                    prefix: range.subnet.prefix,
                },
                gateway: Some(gateway_of(range)),
                interface: None,
            });
        }
        Ok(out)
    }

    fn pick(
        &self,
        set_idx: usize,
        set: &[RangeConf],
        reserved: &[IpAddr],
        taken: &HashSet<IpAddr>,
        id: &str,
        ifname: &str,
    ) -> Result<IpAddr, IpamError> {
        let last_path = self.dir.join(format!("last_reserved_ip.{set_idx}"));
        let last: Option<IpAddr> = fs::read_to_string(&last_path)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        // Candidates in order, starting after the last handed out address so
        // that released addresses are not reused at once.
        let bounds: Vec<(u128, u128, &RangeConf)> = set
            .iter()
            .map(|r| {
                let (lo, hi) = range_bounds(r);
                (ipnet::to_u128(&lo), ipnet::to_u128(&hi), r)
            })
            .collect();
        let (mut ri, mut cur) = match last.and_then(|l| {
            bounds
                .iter()
                .position(|(lo, hi, r)| {
                    r.subnet.contains(&l) && (*lo..=*hi).contains(&ipnet::to_u128(&l))
                })
                .map(|p| (p, ipnet::to_u128(&l)))
        }) {
            Some((p, l)) => (p, l),
            None => (bounds.len() - 1, bounds[bounds.len() - 1].1),
        };
        let start = (ri, cur);
        loop {
            // Advance to the next candidate, wrapping across ranges.
            if cur >= bounds[ri].1 {
                ri = (ri + 1) % bounds.len();
                cur = bounds[ri].0;
            } else {
                cur += 1;
            }
            let r = bounds[ri].2;
            let ip = ipnet::from_u128(&r.subnet.addr, cur);
            if ip != gateway_of(r) && !reserved.contains(&ip) && !taken.contains(&ip) {
                let path = self.dir.join(ip.to_string());
                match OpenOptions::new().write(true).create_new(true).open(&path) {
                    Ok(mut f) => {
                        f.write_all(format!("{id}\r\n{ifname}").as_bytes())
                            .map_err(io_err(&path))?;
                        fs::write(&last_path, ip.to_string()).map_err(io_err(&last_path))?;
                        return Ok(ip);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(&path)(e)),
                }
            }
            if (ri, cur) == start {
                return Err(IpamError::Exhausted {
                    set: set_idx,
                    ranges: set
                        .iter()
                        .map(|r| r.subnet.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }

    /// Releases every lease of (id, ifname); returns the addresses released.
    pub fn release(&self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let mut out = Vec::new();
        for (ip, lid, lif) in self.leases()? {
            // Old host-local files hold only the container ID.
            if lid == id && (lif == ifname || lif.is_empty()) {
                self.remove_lease(&ip)?;
                out.push(ip);
            }
        }
        Ok(out)
    }

    /// Releases every lease not held by one of `valid`.
    pub fn gc(&self, valid: &[Attachment]) -> Result<Vec<IpAddr>, IpamError> {
        let mut out = Vec::new();
        for (ip, lid, lif) in self.leases()? {
            let keep = valid
                .iter()
                .any(|a| a.container_id == lid && (a.ifname == lif || lif.is_empty()));
            if !keep {
                self.remove_lease(&ip)?;
                out.push(ip);
            }
        }
        Ok(out)
    }

    pub fn leases_of(&self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        Ok(self
            .leases()?
            .into_iter()
            .filter(|(_, lid, lif)| lid == id && (lif == ifname || lif.is_empty()))
            .map(|l| l.0)
            .collect())
    }
}

/// The gateway of a range: configured, or the first address of the subnet.
pub fn gateway_of(r: &RangeConf) -> IpAddr {
    r.gateway.unwrap_or_else(|| r.subnet.nth(1))
}

/// First and last assignable address: skips the network address and, for
/// IPv4, the broadcast address.
fn range_bounds(r: &RangeConf) -> (IpAddr, IpAddr) {
    let lo = r.range_start.unwrap_or_else(|| r.subnet.nth(1));
    let last = r.subnet.last();
    let default_hi = if last.is_ipv4() {
        ipnet::from_u128(&last, ipnet::to_u128(&last) - 1)
    } else {
        last
    };
    let hi = r.range_end.unwrap_or(default_hi);
    (lo, hi)
}

/// Routes the built-in IPAM returns.
pub fn builtin_routes(ipam: &IpamConf) -> Vec<Route> {
    ipam.routes
        .iter()
        .map(|r| Route {
            dst: r.dst,
            gw: r.gw,
        })
        .collect()
}

/// Runs the IPAM plugin `ipam.type` (see `delegate_once`). A plugin that
/// predates 1.1.0 (Debian's host-local 1.1.1 stops at 1.0.0) refuses a 1.1.0
/// config with code 1; ADD, DEL and CHECK mean the same in 1.0.0 and the
/// results have the same shape, so those are retried once as 1.0.0.
pub fn delegate(
    kind: &str,
    command: &str,
    env: &CniEnv,
    stdin: &[u8],
) -> Result<Option<serde_json::Value>, CniError> {
    match delegate_once(kind, command, env, stdin) {
        Err(e)
            if e.code == cni_error::INCOMPATIBLE_VERSION
                && ["ADD", "DEL", "CHECK"].contains(&command) =>
        {
            let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(stdin) else {
                return Err(e);
            };
            if v.get("cniVersion").and_then(|c| c.as_str()) != Some("1.1.0") {
                return Err(e);
            }
            v["cniVersion"] = serde_json::Value::from("1.0.0");
            delegate_once(kind, command, env, v.to_string().as_bytes())
        }
        other => other,
    }
}

/// Runs the IPAM plugin `ipam.type` from CNI_PATH with our CNI environment
/// (set explicitly: in hook mode it is not in our process environment) and
/// the given stdin. Returns its parsed stdout (a result, or nothing for DEL).
fn delegate_once(
    kind: &str,
    command: &str,
    env: &CniEnv,
    stdin: &[u8],
) -> Result<Option<serde_json::Value>, CniError> {
    let cni_path = env.path.as_str();
    if kind.contains('/') {
        return Err(IpamError::PluginNotFound(kind.to_string()).into());
    }
    let bin = cni_path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(kind))
        .find(|p| p.is_file())
        .ok_or_else(|| IpamError::PluginNotFound(kind.to_string()))?;
    let mut child = Command::new(&bin)
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", &env.container_id)
        .env("CNI_NETNS", &env.netns)
        .env("CNI_IFNAME", &env.ifname)
        .env("CNI_PATH", &env.path)
        .env("CNI_ARGS", env.args_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| IpamError::PluginExec {
            plugin: kind.to_string(),
            source,
        })?;
    if let Some(mut input) = child.stdin.take() {
        // A plugin may exit without reading stdin; that is not our error.
        let _ = input.write_all(stdin);
    }
    let out = child
        .wait_with_output()
        .map_err(|source| IpamError::PluginExec {
            plugin: kind.to_string(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let parsed: Option<serde_json::Value> = if text.trim().is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(&text).map_err(|_| IpamError::PluginOutput {
                plugin: kind.to_string(),
                output: text.clone(),
            })?,
        )
    };
    if !out.status.success() {
        // Pass the plugin's own error object through.
        let v = parsed.unwrap_or_default();
        let code = v.get("code").and_then(|c| c.as_u64()).unwrap_or(999) as u32;
        let msg = v
            .get("msg")
            .and_then(|m| m.as_str())
            .unwrap_or("IPAM plugin failed");
        let details = v
            .get("details")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        return Err(CniError::new(code, format!("{kind}: {msg}"), details));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    fn dir(tag: &str) -> Dir {
        Dir(std::env::temp_dir().join(format!("hb-unit-{tag}-{}", std::process::id())))
    }
    fn range(subnet: &str, start: Option<&str>, end: Option<&str>) -> RangeConf {
        RangeConf {
            subnet: subnet.parse().unwrap(),
            range_start: start.map(|s| s.parse().unwrap()),
            range_end: end.map(|s| s.parse().unwrap()),
            gateway: None,
        }
    }

    #[test]
    fn allocates_in_order_skipping_gateway_and_reserved() {
        let d = dir("order");
        let store = Store::open(&d.0).unwrap();
        let sets = vec![vec![range("10.231.40.0/29", None, None)]];
        let reserved = vec!["10.231.40.3".parse().unwrap()];
        let mut got = Vec::new();
        for i in 0..4 {
            let ips = store
                .allocate(&sets, &reserved, &format!("c{i}"), "eth0")
                .unwrap();
            got.push(ips[0].address.to_string());
        }
        assert_eq!(
            got,
            [
                "10.231.40.2/29",
                "10.231.40.4/29",
                "10.231.40.5/29",
                "10.231.40.6/29"
            ]
        );
        assert_eq!(gateway_of(&sets[0][0]).to_string(), "10.231.40.1");
        // .7 is broadcast: the pool is exhausted.
        let err = store.allocate(&sets, &reserved, "c9", "eth0").unwrap_err();
        assert!(matches!(err, IpamError::Exhausted { .. }), "{err}");
        // Same attachment again gets its lease back.
        let again = store.allocate(&sets, &reserved, "c1", "eth0").unwrap();
        assert_eq!(again[0].address.to_string(), "10.231.40.4/29");
        // Release, then the search continues after the last address and wraps.
        assert_eq!(store.release("c0", "eth0").unwrap().len(), 1);
        let next = store.allocate(&sets, &reserved, "c9", "eth0").unwrap();
        assert_eq!(next[0].address.to_string(), "10.231.40.2/29");
        let lease = fs::read_to_string(d.0.join("10.231.40.2")).unwrap();
        assert_eq!(lease, "c9\r\neth0");
    }

    #[test]
    fn range_sets_and_gc() {
        let d = dir("gc");
        let store = Store::open(&d.0).unwrap();
        let sets = vec![
            vec![
                range("10.231.41.0/24", Some("10.231.41.10"), Some("10.231.41.10")),
                range("10.231.42.0/24", Some("10.231.42.20"), Some("10.231.42.20")),
            ],
            vec![range("fd00:231:41::/64", None, None)],
        ];
        let a = store.allocate(&sets, &[], "a", "eth0").unwrap();
        let b = store.allocate(&sets, &[], "b", "eth0").unwrap();
        assert_eq!(a[0].address.to_string(), "10.231.41.10/24");
        assert_eq!(b[0].address.to_string(), "10.231.42.20/24");
        assert_eq!(b[0].gateway.unwrap().to_string(), "10.231.42.1");
        assert_eq!(a[1].address.to_string(), "fd00:231:41::2/64");
        // A failed allocation gives back what it took in earlier sets.
        assert!(store.allocate(&sets, &[], "c", "eth0").is_err());
        assert_eq!(store.leases().unwrap().len(), 4);
        let valid = vec![Attachment {
            container_id: "a".into(),
            ifname: "eth0".into(),
        }];
        assert_eq!(store.gc(&valid).unwrap().len(), 2);
        assert_eq!(store.leases_of("a", "eth0").unwrap().len(), 2);
    }
}
