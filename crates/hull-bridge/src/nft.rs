//! Masquerading, port mappings and bridge isolation in an nftables table of
//! our own (`inet hull-bridge`). Rules are added through `nft -j -f -`, read
//! and deleted over netlink (crate::nfnetlink), which is ten times cheaper.
//!
//! Masquerading is one rule per network and subnet, docker0's way
//! (`masq/<network> <subnet>`), added by the first ADD that needs it and kept
//! while the network is in use: after that, an ADD and a DEL without port
//! mappings run no `nft` at all. Port-mapping rules are per container and
//! carry the comment `<network>:<containerID>/<ifname>`, so DEL and GC
//! delete exactly the rules of one attachment by handle. Per-bridge
//! isolation rules carry `bridge:<name>`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::fcntl::{Flock, FlockArg};
use serde_json::{json, Value};

use crate::cni_error::{self, CniError};
use crate::config::PortMapping;
use crate::ipnet::IpNet;
use crate::nfnetlink::{self, NfError};

pub const TABLE: &str = "hull-bridge";
const FAMILY: &str = "inet";
const LOCK_DIR: &str = "/run/hull-bridge";

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("cannot run nft: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("nft {what} failed: {stderr}")]
    Failed { what: String, stderr: String },
    #[error("nft lock {path}: {reason}")]
    Lock { path: String, reason: String },
    #[error(transparent)]
    Netlink(#[from] NfError),
}

impl From<NftError> for CniError {
    fn from(e: NftError) -> Self {
        CniError::new(
            cni_error::FIREWALL_FAILURE,
            "nftables failed",
            e.to_string(),
        )
    }
}

/// Serialises our read-modify-write sequences (list, then delete by handle)
/// between concurrent plugin runs.
pub struct NftLock {
    _lock: Flock<File>,
}

impl NftLock {
    pub fn take() -> Result<NftLock, NftError> {
        let lock_err = |reason: String| NftError::Lock {
            path: LOCK_DIR.to_string(),
            reason,
        };
        fs::create_dir_all(LOCK_DIR).map_err(|e| lock_err(e.to_string()))?;
        let path = Path::new(LOCK_DIR).join("nft.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| lock_err(e.to_string()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| lock_err(errno.to_string()))?;
        Ok(NftLock { _lock: lock })
    }
}

/// Where `nft` is. Runtimes run OCI hooks with only the hook's `env` (runc
/// and hull both clear the environment), so without a PATH the usual system
/// directories are searched rather than execvp's `/bin:/usr/bin`.
fn nft_binary() -> std::path::PathBuf {
    const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let path = std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    path.split(':')
        .chain(DEFAULT_PATH.split(':'))
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("nft"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| "nft".into())
}

fn run(what: &str, args: &[&str], input: Option<&Value>) -> Result<String, NftError> {
    let mut child = Command::new(nft_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Spawn)?;
    if let (Some(v), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(v.to_string().as_bytes())
            .map_err(NftError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(NftError::Spawn)?;
    if !out.status.success() {
        return Err(NftError::Failed {
            what: what.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

fn apply(what: &str, cmds: Vec<Value>) -> Result<(), NftError> {
    if cmds.is_empty() {
        return Ok(());
    }
    run(what, &["-j", "-f", "-"], Some(&json!({ "nftables": cmds })))?;
    Ok(())
}

/// The table, its base chains and the set of our bridges. `add` is
/// idempotent, so this runs before every change.
fn skeleton() -> Vec<Value> {
    let chain = |name: &str, kind: &str, hook: &str, prio: i32| {
        json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": name,
            "type": kind, "hook": hook, "prio": prio, "policy": "accept"}}})
    };
    vec![
        json!({"add": {"table": {"family": FAMILY, "name": TABLE}}}),
        chain("prerouting", "nat", "prerouting", -100),
        chain("output", "nat", "output", -100),
        chain("postrouting", "nat", "postrouting", 100),
        chain("forward", "filter", "forward", 0),
        json!({"add": {"set": {"family": FAMILY, "table": TABLE, "name": "bridges", "type": "ifname"}}}),
    ]
}

fn rule(chain: &str, comment: &str, expr: Vec<Value>) -> Value {
    json!({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain,
        "comment": comment, "expr": expr}}})
}

fn ip_proto(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

fn m(op: &str, left: Value, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

fn addr(ip: &IpAddr, field: &str) -> Value {
    json!({"payload": {"protocol": ip_proto(ip), "field": field}})
}

fn prefix(net: &IpNet) -> Value {
    json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix}})
}

/// The comment marking one attachment's rules: network, container, ifname.
pub fn tag(network: &str, container_id: &str, ifname: &str) -> String {
    format!("{network}:{container_id}/{ifname}")
}

/// The comment of a network's masquerade rule for one subnet. A network
/// name has no '/', so no attachment tag (`<network>:...`) can look like it.
pub fn masq_tag(network: &str, subnet: &IpNet) -> String {
    format!("masq/{network} {}/{}", subnet.network(), subnet.prefix)
}

/// What one attachment needs from the firewall.
pub struct Attachment<'a> {
    pub network: &'a str,
    pub tag: String,
    pub bridge: &'a str,
    pub isolate: bool,
    pub masq: bool,
    pub ips: Vec<IpNet>,
    pub ports: &'a [PortMapping],
}

/// Installs what one attachment needs that is not there yet, in a single
/// atomic nft transaction; when the network's rules are in place and there
/// are no port mappings, nothing is run.
pub fn add(att: &Attachment) -> Result<(), NftError> {
    let _lock = NftLock::take()?;
    let existing = list_rules()?;
    let has = |tag: &str| existing.iter().any(|r| r.comment == tag);
    let mut rules = Vec::new();
    let bridge_tag = format!("bridge:{}", att.bridge);
    if att.isolate && !has(&bridge_tag) {
        rules.push(rule(
            "forward",
            &bridge_tag,
            vec![
                m("==", json!({"meta": {"key": "iifname"}}), json!(att.bridge)),
                m("==", json!({"meta": {"key": "oifname"}}), json!("@bridges")),
                m("!=", json!({"meta": {"key": "oifname"}}), json!(att.bridge)),
                json!({"drop": null}),
            ],
        ));
    }
    // Two addresses from one subnet need its rule once.
    let mut masq_added = Vec::new();
    for net in &att.ips {
        let ip = net.addr;
        let masq_tag = masq_tag(att.network, net);
        if att.masq && !has(&masq_tag) && !masq_added.contains(&masq_tag) {
            // From the subnet to anywhere but the subnet.
            rules.push(rule(
                "postrouting",
                &masq_tag,
                vec![
                    m("==", addr(&ip, "saddr"), prefix(net)),
                    m("!=", addr(&ip, "daddr"), prefix(net)),
                    json!({"masquerade": null}),
                ],
            ));
            masq_added.push(masq_tag);
        }
        let mut mapped = false;
        for pm in att.ports {
            let host_ip: Option<IpAddr> = pm.host_ip.as_deref().and_then(|h| h.parse().ok());
            if host_ip.is_some_and(|h| h.is_ipv4() != ip.is_ipv4()) {
                continue;
            }
            mapped = true;
            let proto = pm.protocol.as_deref().unwrap_or("tcp");
            let dest = match host_ip {
                Some(h) => m("==", addr(&h, "daddr"), json!(h.to_string())),
                None => m(
                    "==",
                    json!({"fib": {"result": "type", "flags": ["daddr"]}}),
                    json!("local"),
                ),
            };
            let expr = vec![
                m(
                    "==",
                    json!({"meta": {"key": "nfproto"}}),
                    json!(if ip.is_ipv4() { "ipv4" } else { "ipv6" }),
                ),
                dest,
                m(
                    "==",
                    json!({"payload": {"protocol": proto, "field": "dport"}}),
                    json!(pm.host_port),
                ),
                json!({"dnat": {"family": ip_proto(&ip), "addr": ip.to_string(), "port": pm.container_port}}),
            ];
            rules.push(rule("prerouting", &att.tag, expr.clone()));
            rules.push(rule("output", &att.tag, expr));
        }
        if mapped {
            // Hairpin: a neighbour on the bridge reaching us through a mapped
            // port must see replies come back from the address it talked to.
            rules.push(rule(
                "postrouting",
                &att.tag,
                vec![
                    m("in", json!({"ct": {"key": "status"}}), json!("dnat")),
                    m("==", addr(&ip, "saddr"), prefix(net)),
                    m("==", addr(&ip, "daddr"), json!(ip.to_string())),
                    json!({"masquerade": null}),
                ],
            ));
        }
    }
    if rules.is_empty() {
        return Ok(());
    }
    // The set element goes with the rules: whenever a rule of this bridge
    // is there, so is its element.
    let mut cmds = skeleton();
    cmds.push(json!({"add": {"element": {"family": FAMILY, "table": TABLE,
        "name": "bridges", "elem": [att.bridge]}}}));
    cmds.extend(rules);
    apply("add rules", cmds)
}

/// All rules in our table (none when the table does not exist).
pub fn list_rules() -> Result<Vec<nfnetlink::Rule>, NftError> {
    Ok(nfnetlink::list_rules(TABLE)?)
}

fn delete_where(keep: impl Fn(&nfnetlink::Rule) -> bool) -> Result<usize, NftError> {
    let _lock = NftLock::take()?;
    // Our lock keeps other hull-bridge runs out, not `nft` itself: a rule
    // deleted by someone else between the listing and the batch fails the
    // batch with ENOENT, and a fresh listing settles it.
    let mut tries = 0;
    loop {
        let doomed: Vec<nfnetlink::Rule> = list_rules()?.into_iter().filter(|r| !keep(r)).collect();
        match nfnetlink::delete_rules(TABLE, &doomed) {
            Ok(()) => return Ok(doomed.len()),
            Err(NfError::Kernel {
                errno: nix::errno::Errno::ENOENT,
                ..
            }) if tries < 2 => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Nothing to delete is fine, and so is a kernel without nf_tables (then
/// no rule can exist).
fn tolerate_no_nftables(r: Result<usize, NftError>) -> Result<usize, NftError> {
    match r {
        Err(NftError::Netlink(e)) if e.no_nftables() => Ok(0),
        other => other,
    }
}

/// Deletes the rules of one attachment.
pub fn del(tag: &str) -> Result<usize, NftError> {
    tolerate_no_nftables(delete_where(|r| r.comment != tag))
}

/// Deletes the network's masquerade rules: its config says `ipMasq: false`
/// now (it may have said true before), for the containers already on it
/// too.
pub fn del_masq(network: &str) -> Result<usize, NftError> {
    let prefix = format!("masq/{network} ");
    tolerate_no_nftables(delete_where(|r| !r.comment.starts_with(&prefix)))
}

/// Deletes every per-container rule of `network` whose tag is not in
/// `valid`, and the network's masquerade rules when nothing is valid.
pub fn gc(network: &str, valid: &[String]) -> Result<usize, NftError> {
    let ours = format!("{network}:");
    let masq = format!("masq/{network} ");
    delete_where(|r| {
        if r.comment.starts_with(&masq) {
            return !valid.is_empty();
        }
        !r.comment.starts_with(&ours) || valid.contains(&r.comment)
    })
}

/// Whether nft is usable (for STATUS).
pub fn available() -> Result<(), NftError> {
    run("version", &["--version"], None).map(|_| ())
}
