//! The CNI commands: ADD, DEL, CHECK, STATUS, GC and VERSION.

use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use serde_json::{json, Value};

use crate::bridge::{self, BridgeError};
use crate::cni_error::{self, CniError};
use crate::config::{self, NetConf};
use crate::env::CniEnv;
use crate::ipam::{self, Store};
use crate::ipnet::IpNet;
use crate::netlink::{LinkAddr, Netlink, NetlinkError};
use crate::netns::{self, NetnsGuard};
use crate::nft;
use crate::result::{mac_string, CniResult, Interface, IpConfig, Route};
use crate::version;

fn nl_err(e: NetlinkError) -> CniError {
    BridgeError::from(e).into()
}

fn check_failed(what: String) -> CniError {
    CniError::new(cni_error::CHECK_FAILED, "CHECK failed", what)
}

/// Runs one CNI command. `Ok(Some(v))` is printed on stdout.
pub fn run(env: &CniEnv, stdin: &[u8]) -> Result<Option<Value>, CniError> {
    if env.command == "VERSION" {
        return Ok(Some(version_json(stdin)));
    }
    let conf = config::parse(stdin).map_err(CniError::from)?;
    let with_version = |mut e: CniError| {
        e.cni_version = conf.cni_version.clone();
        e
    };
    env.check_args().map_err(with_version)?;
    let out = match env.command.as_str() {
        "ADD" => add(env, &conf, stdin)
            .map(|r| merge_prev(&conf, r))
            .map(|r| Some(r.to_json(&conf.cni_version))),
        "DEL" => del(env, &conf, stdin).map(|_| None),
        "CHECK" => {
            require_version(&conf, version::has_check(&conf.cni_version), "CHECK")?;
            check(env, &conf, stdin).map(|_| None)
        }
        "STATUS" => {
            require_version(&conf, version::has_status_gc(&conf.cni_version), "STATUS")?;
            status(env, &conf, stdin).map(|_| None)
        }
        "GC" => {
            require_version(&conf, version::has_status_gc(&conf.cni_version), "GC")?;
            gc(env, &conf, stdin).map(|_| None)
        }
        other => Err(CniError::new(
            cni_error::INVALID_ENV,
            "invalid environment",
            format!("unknown CNI_COMMAND {other}"),
        )),
    };
    out.map_err(with_version)
}

/// When chained after another plugin, our result extends its prevResult:
/// its interfaces come first, so our interface indexes shift.
fn merge_prev(conf: &NetConf, ours: CniResult) -> CniResult {
    let Some(prev) = &conf.prev_result else {
        return ours;
    };
    let mut merged = CniResult::from_json(prev);
    let offset = merged.interfaces.len();
    merged.interfaces.extend(ours.interfaces);
    merged.ips.extend(ours.ips.into_iter().map(|mut ip| {
        ip.interface = ip.interface.map(|i| i + offset);
        ip
    }));
    merged.routes.extend(ours.routes);
    if merged.dns.is_null() {
        merged.dns = ours.dns;
    }
    merged
}

fn require_version(conf: &NetConf, ok: bool, cmd: &str) -> Result<(), CniError> {
    if ok {
        return Ok(());
    }
    Err(CniError::new(
        cni_error::INCOMPATIBLE_VERSION,
        "incompatible CNI version",
        format!("{cmd} is not defined for cniVersion {}", conf.cni_version),
    ))
}

fn version_json(stdin: &[u8]) -> Value {
    let requested = serde_json::from_slice::<Value>(stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|v| version::is_supported(v))
        .unwrap_or_else(|| version::LATEST.to_string());
    json!({"cniVersion": requested, "supportedVersions": version::SUPPORTED})
}

fn open_netns(env: &CniEnv) -> Result<File, CniError> {
    netns::open(Path::new(&env.netns)).map_err(|e| {
        let code = if e.is_missing() {
            cni_error::UNKNOWN_CONTAINER
        } else {
            cni_error::IO_FAILURE
        };
        CniError::new(
            code,
            "cannot open the container's network namespace",
            e.to_string(),
        )
    })
}

fn enter(file: &File, env: &CniEnv) -> Result<NetnsGuard, CniError> {
    NetnsGuard::enter(file, Path::new(&env.netns)).map_err(|e| {
        CniError::new(
            cni_error::IO_FAILURE,
            "cannot enter the network namespace",
            e.to_string(),
        )
    })
}

/// Addresses from IPAM, whichever kind.
struct Leases {
    ips: Vec<IpConfig>,
    routes: Vec<Route>,
    dns: Value,
}

fn ipam_add(env: &CniEnv, conf: &NetConf, stdin: &[u8]) -> Result<Leases, CniError> {
    let ipam = conf.ipam();
    if ipam.is_builtin() {
        let store = Store::open(&conf.data_dir())?;
        let ips = store.allocate(
            &ipam.range_sets(),
            &ipam.reserved,
            &env.container_id,
            &env.ifname,
        )?;
        return Ok(Leases {
            ips,
            routes: ipam::builtin_routes(&ipam),
            dns: Value::Null,
        });
    }
    let v = ipam::delegate(&ipam.kind, "ADD", env, stdin)?.unwrap_or_default();
    let r = CniResult::from_json(&v);
    if r.ips.is_empty() {
        // Give the addresses back (if any) before failing.
        let _ = ipam::delegate(&ipam.kind, "DEL", env, stdin);
        return Err(CniError::new(
            cni_error::INVALID_CONFIG,
            "IPAM returned no addresses",
            format!("IPAM plugin {} returned {v}", ipam.kind),
        ));
    }
    Ok(Leases {
        ips: r.ips,
        routes: r.routes,
        dns: r.dns,
    })
}

fn ipam_del(env: &CniEnv, conf: &NetConf, stdin: &[u8]) -> Result<(), CniError> {
    let ipam = conf.ipam();
    if ipam.is_builtin() {
        Store::open(&conf.data_dir())?.release(&env.container_id, &env.ifname)?;
        Ok(())
    } else {
        ipam::delegate(&ipam.kind, "DEL", env, stdin).map(|_| ())
    }
}

fn container_mac(env: &CniEnv, conf: &NetConf) -> Result<Option<[u8; 6]>, CniError> {
    let mac = conf
        .runtime_config
        .mac
        .as_deref()
        .or(env.arg("MAC"))
        .or(conf.mac.as_deref());
    mac.map(config::parse_mac)
        .transpose()
        .map_err(CniError::from)
}

/// ADD, with everything it made undone if a later step fails.
fn add(env: &CniEnv, conf: &NetConf, stdin: &[u8]) -> Result<CniResult, CniError> {
    let netns_file = open_netns(env)?;
    let mac = container_mac(env, conf)?;
    {
        let _in = enter(&netns_file, env)?;
        let mut nl = Netlink::open().map_err(nl_err)?;
        if nl.link_by_name(&env.ifname).map_err(nl_err)?.is_some() {
            return Err(CniError::new(
                cni_error::INVALID_CONFIG,
                "interface exists",
                format!("{} already exists in {}", env.ifname, env.netns),
            ));
        }
    }
    let leases = ipam_add(env, conf, stdin)?;
    let mut veth_index = None;
    let tag = nft::tag(&conf.name, &env.container_id, &env.ifname);
    let res = attach(env, conf, &netns_file, mac, &leases, &tag, &mut veth_index);
    if res.is_err() {
        if let Some(index) = veth_index {
            if let Ok(mut nl) = Netlink::open() {
                let _ = nl.del_link(index);
            }
        }
        let _ = nft::del(&tag);
        let _ = ipam_del(env, conf, stdin);
    }
    res
}

fn attach(
    env: &CniEnv,
    conf: &NetConf,
    netns_file: &File,
    mac: Option<[u8; 6]>,
    leases: &Leases,
    tag: &str,
    veth_index: &mut Option<u32>,
) -> Result<CniResult, CniError> {
    let is_gateway = conf.is_gateway || conf.is_default_gateway;
    let mut nl = Netlink::open().map_err(nl_err)?;
    let br = bridge::ensure_bridge(&mut nl, conf.bridge_name(), conf.mtu, conf.promisc_mode)?;
    if let Some(vid) = conf.vlan {
        nl.set_vlan_filtering(br.index).map_err(|e| {
            if e.errno() == Some(nix::errno::Errno::EOPNOTSUPP) {
                CniError::new(
                    cni_error::UNSUPPORTED_FIELD,
                    "unsupported field",
                    format!(
                        "vlan {vid}: this kernel has no bridge VLAN filtering \
                         (CONFIG_BRIDGE_VLAN_FILTERING)"
                    ),
                )
            } else {
                nl_err(e)
            }
        })?;
        if is_gateway {
            // The gateway (the bridge device) serves this VLAN untagged.
            nl.bridge_vlan(br.index, vid, true, true).map_err(nl_err)?;
        }
    }
    if is_gateway {
        for ip in &leases.ips {
            if let Some(gw) = ip.gateway {
                let subnet = IpNet {
                    addr: ip.address.network(),
                    prefix: ip.address.prefix,
                };
                bridge::ensure_gateway(&mut nl, &br, gw, &subnet, conf.force_address)?;
                bridge::enable_forwarding(gw.is_ipv6())?;
            }
        }
    }
    let mtu = conf.mtu.or(Some(br.mtu)).filter(|m| *m > 0);
    let host = bridge::create_veth(&mut nl, &env.ifname, netns_file, mtu, mac)?;
    *veth_index = Some(host.index);
    nl.set_master_and_alias(host.index, br.index, &bridge::port_alias(tag))
        .map_err(nl_err)?;
    if conf.hairpin_mode {
        nl.set_hairpin(host.index, true).map_err(nl_err)?;
    }
    if let Some(vid) = conf.vlan {
        // Access port: frames in and out untagged, switched only within `vid`.
        nl.bridge_vlan(host.index, vid, false, true)
            .map_err(nl_err)?;
        if vid != 1 {
            match nl.bridge_vlan(host.index, 1, false, false) {
                Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => {}
                other => other.map_err(nl_err)?,
            }
        }
    }
    nl.set_up(host.index).map_err(nl_err)?;

    let container_mac = {
        let _in = enter(netns_file, env)?;
        let mut cnl = Netlink::open().map_err(nl_err)?;
        let link = cnl
            .link_by_name(&env.ifname)
            .map_err(nl_err)?
            .ok_or_else(|| {
                nl_err(NetlinkError::Decode(format!(
                    "{} missing in netns",
                    env.ifname
                )))
            })?;
        cnl.set_up(link.index).map_err(nl_err)?;
        for ip in &leases.ips {
            cnl.add_addr(
                link.index,
                LinkAddr {
                    ip: ip.address.addr,
                    prefix: ip.address.prefix,
                },
            )
            .map_err(nl_err)?;
        }
        if conf.is_default_gateway {
            for ip in &leases.ips {
                if let Some(gw) = ip.gateway {
                    let any: IpAddr = if gw.is_ipv4() {
                        IpAddr::from([0u8; 4])
                    } else {
                        IpAddr::from([0u16; 8])
                    };
                    cnl.add_route(any, 0, Some(gw), link.index)
                        .map_err(nl_err)?;
                }
            }
        }
        for r in &leases.routes {
            if conf.is_default_gateway && r.dst.prefix == 0 {
                continue;
            }
            let gw = r.gw.or_else(|| {
                leases
                    .ips
                    .iter()
                    .find(|i| i.address.addr.is_ipv4() == r.dst.addr.is_ipv4())
                    .and_then(|i| i.gateway)
            });
            cnl.add_route(r.dst.network(), r.dst.prefix, gw, link.index)
                .map_err(nl_err)?;
        }
        link.mac
    };

    let needs_nft =
        conf.ip_masq || conf.isolate_bridges || !conf.runtime_config.port_mappings.is_empty();
    if needs_nft {
        nft::add(&nft::Attachment {
            network: &conf.name,
            tag: tag.to_string(),
            bridge: conf.bridge_name(),
            isolate: conf.isolate_bridges,
            masq: conf.ip_masq,
            ips: leases.ips.iter().map(|i| i.address).collect(),
            ports: &conf.runtime_config.port_mappings,
        })?;
    }
    if !conf.ip_masq {
        nft::del_masq(&conf.name)?;
    }

    let mut routes = leases.routes.clone();
    if conf.is_default_gateway {
        routes.retain(|r| r.dst.prefix != 0);
        for ip in &leases.ips {
            if let Some(gw) = ip.gateway {
                let any = if gw.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
                if let Ok(dst) = any.parse() {
                    routes.push(Route { dst, gw: Some(gw) });
                }
            }
        }
    }
    Ok(CniResult {
        interfaces: vec![
            Interface {
                name: br.name.clone(),
                mac: mac_string(&br.mac),
                sandbox: None,
            },
            Interface {
                name: host.name.clone(),
                mac: mac_string(&host.mac),
                sandbox: None,
            },
            Interface {
                name: env.ifname.clone(),
                mac: mac_string(&container_mac),
                sandbox: Some(env.netns.clone()),
            },
        ],
        ips: leases
            .ips
            .iter()
            .map(|i| IpConfig {
                address: i.address,
                gateway: if is_gateway { i.gateway } else { None },
                interface: Some(2),
            })
            .collect(),
        routes,
        dns: leases.dns.clone(),
    })
}

/// DEL: every step tolerates "already gone", so DEL can be repeated and
/// works after the namespace has been destroyed.
fn del(env: &CniEnv, conf: &NetConf, stdin: &[u8]) -> Result<(), CniError> {
    let tag = nft::tag(&conf.name, &env.container_id, &env.ifname);
    // Whether the veth went with its container end, inside the namespace.
    let mut veth_gone = false;
    if !env.netns.is_empty() {
        match netns::open(Path::new(&env.netns)) {
            Ok(file) => {
                let _in = enter(&file, env)?;
                let mut nl = Netlink::open().map_err(nl_err)?;
                if let Some(link) = nl.link_by_name(&env.ifname).map_err(nl_err)? {
                    // Deleting one end of the veth removes the host end too.
                    match nl.del_link(link.index) {
                        Err(e) if e.errno() == Some(nix::errno::Errno::ENODEV) => {}
                        other => other.map_err(nl_err)?,
                    }
                    veth_gone = true;
                }
            }
            Err(e) if e.is_missing() => {}
            Err(e) => {
                return Err(CniError::new(
                    cni_error::IO_FAILURE,
                    "cannot open the container's network namespace",
                    e.to_string(),
                ))
            }
        }
    }
    if !veth_gone {
        // The namespace is gone (a poststop hook) or was not given: the
        // kernel tears its veths down in the background, which a user
        // listing links right after DEL would still see.
        let alias = bridge::port_alias(&tag);
        let mut nl = Netlink::open().map_err(nl_err)?;
        bridge::del_ports_where(&mut nl, |a| a == alias).map_err(nl_err)?;
    }
    nft::del(&tag)?;
    ipam_del(env, conf, stdin)
}

fn check(env: &CniEnv, conf: &NetConf, stdin: &[u8]) -> Result<(), CniError> {
    let prev = match &conf.prev_result {
        Some(p) => CniResult::from_json(p),
        None => {
            return Err(CniError::new(
                cni_error::INVALID_CONFIG,
                "invalid network configuration",
                "CHECK needs prevResult",
            ))
        }
    };
    // Our part of the result is [bridge, host veth, container interface].
    let ours = prev
        .interfaces
        .iter()
        .position(|i| i.name == env.ifname && i.sandbox.is_some());
    let mine: Vec<&IpConfig> = prev
        .ips
        .iter()
        .filter(|ip| ip.interface.is_none() || ip.interface == ours)
        .collect();
    let ipam = conf.ipam();
    if ipam.is_builtin() {
        let leased = Store::open(&conf.data_dir())?.leases_of(&env.container_id, &env.ifname)?;
        for ip in &mine {
            if !leased.contains(&ip.address.addr) {
                return Err(check_failed(format!("no lease for {}", ip.address.addr)));
            }
        }
    } else {
        ipam::delegate(&ipam.kind, "CHECK", env, stdin)?;
    }

    check_rules(env, conf, &mine)?;

    let mut nl = Netlink::open().map_err(nl_err)?;
    let br_name = conf.bridge_name();
    let br = nl
        .link_by_name(br_name)
        .map_err(nl_err)?
        .ok_or_else(|| check_failed(format!("bridge {br_name} does not exist")))?;
    if let Some(idx) = ours.filter(|i| *i >= 2 && prev.interfaces[*i - 2].name == br_name) {
        let veth = &prev.interfaces[idx - 1].name;
        let link = nl
            .link_by_name(veth)
            .map_err(nl_err)?
            .ok_or_else(|| check_failed(format!("host veth {veth} does not exist")))?;
        if link.master != Some(br.index) {
            return Err(check_failed(format!("{veth} is not a port of {br_name}")));
        }
    }
    let file = open_netns(env)?;
    let _in = enter(&file, env)?;
    let mut cnl = Netlink::open().map_err(nl_err)?;
    let link = cnl
        .link_by_name(&env.ifname)
        .map_err(nl_err)?
        .ok_or_else(|| check_failed(format!("{} does not exist in {}", env.ifname, env.netns)))?;
    let have = cnl.addrs(link.index).map_err(nl_err)?;
    for ip in &mine {
        let want = LinkAddr {
            ip: ip.address.addr,
            prefix: ip.address.prefix,
        };
        if !have.contains(&want) {
            return Err(check_failed(format!(
                "{} lacks address {}",
                env.ifname, ip.address
            )));
        }
    }
    for r in &prev.routes {
        if !cnl
            .has_route(r.dst.network(), r.dst.prefix, r.gw)
            .map_err(nl_err)?
        {
            return Err(check_failed(format!("route to {} is missing", r.dst)));
        }
    }
    Ok(())
}

/// CHECK's firewall part: the network's masquerade rule for each of our
/// subnets, and this attachment's port-mapping rules.
fn check_rules(env: &CniEnv, conf: &NetConf, mine: &[&IpConfig]) -> Result<(), CniError> {
    // A mapping bound to a host address of the other family adds no rule.
    let mapped = conf
        .runtime_config
        .port_mappings
        .iter()
        .any(|p| p.host_ip.is_none());
    if !conf.ip_masq && !mapped {
        return Ok(());
    }
    let rules = nft::list_rules()?;
    let has = |tag: &str| rules.iter().any(|r| r.comment == tag);
    if conf.ip_masq {
        for ip in mine {
            let tag = nft::masq_tag(&conf.name, &ip.address);
            if !has(&tag) {
                return Err(check_failed(format!(
                    "the masquerade rule {tag:?} is missing from table inet {}",
                    nft::TABLE
                )));
            }
        }
    }
    let tag = nft::tag(&conf.name, &env.container_id, &env.ifname);
    if mapped && !has(&tag) {
        return Err(check_failed(format!(
            "the port-mapping rules {tag:?} are missing from table inet {}",
            nft::TABLE
        )));
    }
    Ok(())
}

fn status(env: &CniEnv, conf: &NetConf, stdin: &[u8]) -> Result<(), CniError> {
    let ipam = conf.ipam();
    if ipam.is_builtin() {
        Store::open(&conf.data_dir())
            .map_err(|e| CniError::new(50, "plugin not available", e.to_string()))?;
    } else {
        ipam::delegate(&ipam.kind, "STATUS", env, stdin)?;
    }
    let needs_nft =
        conf.ip_masq || conf.isolate_bridges || !conf.runtime_config.port_mappings.is_empty();
    if needs_nft {
        nft::available().map_err(|e| CniError::new(50, "plugin not available", e.to_string()))?;
    }
    Ok(())
}

fn gc(env: &CniEnv, conf: &NetConf, stdin: &[u8]) -> Result<(), CniError> {
    let valid = conf.valid_attachments.clone().unwrap_or_default();
    // Rules first: they are ours, whatever the IPAM plugin thinks of GC.
    let tags: Vec<String> = valid
        .iter()
        .map(|a| nft::tag(&conf.name, &a.container_id, &a.ifname))
        .collect();
    nft::gc(&conf.name, &tags)?;
    let aliases: Vec<String> = tags.iter().map(|t| bridge::port_alias(t)).collect();
    let ours = format!("{}:", conf.name);
    let mut nl = Netlink::open().map_err(nl_err)?;
    bridge::del_ports_where(&mut nl, |a| {
        a.starts_with(&ours) && !aliases.iter().any(|v| v == a)
    })
    .map_err(nl_err)?;
    let ipam = conf.ipam();
    if ipam.is_builtin() {
        Store::open(&conf.data_dir())?.gc(&valid)?;
    } else {
        ipam::delegate(&ipam.kind, "GC", env, stdin)?;
    }
    Ok(())
}
