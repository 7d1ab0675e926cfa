//! Host side of an attachment: the bridge, its gateway addresses and the
//! veth pair whose far end lives in the container's network namespace.

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use nix::errno::Errno;

use crate::cni_error::{self, CniError};
use crate::ipnet::IpNet;
use crate::netlink::{Link, LinkAddr, Netlink, NetlinkError};

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("{0}")]
    Netlink(#[from] NetlinkError),
    #[error("{name} exists but is a {kind} device, not a bridge")]
    NotABridge { name: String, kind: String },
    #[error("bridge {bridge} already has {have} in {subnet}; set forceAddress to replace it with {want}")]
    AddressClash {
        bridge: String,
        have: String,
        want: String,
        subnet: String,
    },
    #[error("{what} vanished right after it was created")]
    Vanished { what: String },
    #[error("random bytes: {0}")]
    Random(#[source] std::io::Error),
    #[error("cannot enable forwarding ({path}): {source}")]
    Forwarding {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<BridgeError> for CniError {
    fn from(e: BridgeError) -> Self {
        let code = match e {
            BridgeError::NotABridge { .. } | BridgeError::AddressClash { .. } => {
                cni_error::INVALID_CONFIG
            }
            BridgeError::Netlink(_) | BridgeError::Vanished { .. } => cni_error::NETLINK_FAILURE,
            _ => cni_error::IO_FAILURE,
        };
        CniError::new(code, "bridge setup failed", e.to_string())
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], BridgeError> {
    let mut buf = [0u8; N];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(BridgeError::Random)?;
    Ok(buf)
}

/// A random locally administered unicast MAC.
pub fn random_mac() -> Result<[u8; 6], BridgeError> {
    let mut mac = random_bytes::<6>()?;
    mac[0] = (mac[0] & 0xfe) | 0x02;
    Ok(mac)
}

/// Returns the bridge, creating it (and bringing it up) when absent.
pub fn ensure_bridge(
    nl: &mut Netlink,
    name: &str,
    mtu: Option<u32>,
    promisc: bool,
) -> Result<Link, BridgeError> {
    let link = match nl.link_by_name(name)? {
        Some(l) => l,
        None => {
            match nl.create_bridge(name, mtu, random_mac()?) {
                // Another ADD created it between our lookup and create.
                Err(e) if e.errno() == Some(Errno::EEXIST) => {}
                other => other?,
            }
            nl.link_by_name(name)?
                .ok_or_else(|| BridgeError::Vanished {
                    what: format!("bridge {name}"),
                })?
        }
    };
    let kind = link.kind.clone().unwrap_or_default();
    if kind != "bridge" {
        return Err(BridgeError::NotABridge {
            name: name.to_string(),
            kind,
        });
    }
    if let Some(mtu) = mtu {
        if link.mtu != mtu {
            nl.set_mtu(link.index, mtu)?;
        }
    }
    if promisc {
        nl.set_promisc(link.index)?;
    }
    nl.set_up(link.index)?;
    Ok(link)
}

/// Puts `gw` (with the subnet's prefix) on the bridge. Another address of the
/// same subnet is an error unless `force`, which replaces it.
pub fn ensure_gateway(
    nl: &mut Netlink,
    bridge: &Link,
    gw: IpAddr,
    subnet: &IpNet,
    force: bool,
) -> Result<(), BridgeError> {
    let want = LinkAddr {
        ip: gw,
        prefix: subnet.prefix,
    };
    let have = nl.addrs(bridge.index)?;
    if have.contains(&want) {
        return Ok(());
    }
    for a in have.iter().filter(|a| subnet.contains(&a.ip)) {
        if !force {
            return Err(BridgeError::AddressClash {
                bridge: bridge.name.clone(),
                have: format!("{}/{}", a.ip, a.prefix),
                want: format!("{}/{}", want.ip, want.prefix),
                subnet: subnet.to_string(),
            });
        }
        nl.del_addr(bridge.index, *a)?;
    }
    match nl.add_addr(bridge.index, want) {
        // A concurrent ADD put it there first.
        Err(e) if e.errno() == Some(Errno::EEXIST) => Ok(()),
        other => Ok(other?),
    }
}

/// Turns on forwarding for the address family, as a gateway must route.
pub fn enable_forwarding(v6: bool) -> Result<(), BridgeError> {
    let path = if v6 {
        "/proc/sys/net/ipv6/conf/all/forwarding"
    } else {
        "/proc/sys/net/ipv4/ip_forward"
    };
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current.trim() == "1" {
        return Ok(());
    }
    std::fs::write(path, "1").map_err(|source| BridgeError::Forwarding {
        path: path.to_string(),
        source,
    })
}

/// The alias the host end of an attachment's veth carries: its tag
/// (`<network>:<container id>/<ifname>`, as on its nftables rules), so that
/// DEL and GC find the veth when the container's network namespace is gone.
/// The kernel destroys such a veth itself, but asynchronously: DEL removes
/// it at once. An alias holds at most 255 bytes; a longer tag keeps its
/// start (the network) and ends in a hash of the whole.
pub fn port_alias(tag: &str) -> String {
    const MAX: usize = 255;
    if tag.len() <= MAX {
        return tag.to_string();
    }
    // FNV-1a, 64 bits: no collision worry at the handful of containers with
    // ids over 200 bytes long a host might have.
    let hash = tag.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut cut = MAX - 17;
    while !tag.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}#{hash:016x}", &tag[..cut])
}

/// Deletes the host ends of veths whose alias `doomed` picks (DEL: one
/// attachment's; GC: a network's stale ones). A veth the kernel removed
/// meanwhile is fine. Returns how many went.
pub fn del_ports_where(
    nl: &mut Netlink,
    doomed: impl Fn(&str) -> bool,
) -> Result<usize, NetlinkError> {
    let mut n = 0;
    for link in nl.links()? {
        let ours =
            link.kind.as_deref() == Some("veth") && link.alias.as_deref().is_some_and(&doomed);
        if !ours {
            continue;
        }
        match nl.del_link(link.index) {
            Err(e) if e.errno() == Some(Errno::ENODEV) => {}
            other => other?,
        }
        n += 1;
    }
    Ok(n)
}

/// Creates the veth pair: `host` here, `peer` directly inside `netns`.
/// Retries with a fresh random name if the host name is taken.
pub fn create_veth(
    nl: &mut Netlink,
    peer: &str,
    netns: &File,
    mtu: Option<u32>,
    peer_mac: Option<[u8; 6]>,
) -> Result<Link, BridgeError> {
    let mut last = None;
    for _ in 0..4 {
        let rnd = random_bytes::<4>()?;
        let host = format!(
            "veth{:02x}{:02x}{:02x}{:02x}",
            rnd[0], rnd[1], rnd[2], rnd[3]
        );
        match nl.create_veth(&host, peer, netns.as_raw_fd(), mtu, peer_mac) {
            Ok(()) => {
                return nl.link_by_name(&host)?.ok_or(BridgeError::Vanished {
                    what: format!("veth {host}"),
                })
            }
            Err(e) if e.errno() == Some(Errno::EEXIST) && nl.link_by_name(&host)?.is_some() => {
                last = Some(e)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .map(BridgeError::Netlink)
        .unwrap_or(BridgeError::Vanished {
            what: "veth".into(),
        }))
}

#[cfg(test)]
mod tests {
    use super::port_alias;

    #[test]
    fn port_alias_is_the_tag_or_a_hashed_prefix_of_at_most_255_bytes() {
        assert_eq!(port_alias("net:abc/eth0"), "net:abc/eth0");
        let long_a = format!("net:{}/eth0", "a".repeat(300));
        let long_b = format!("net:{}b/eth0", "a".repeat(299));
        let (a, b) = (port_alias(&long_a), port_alias(&long_b));
        assert!(a.len() <= 255 && b.len() <= 255, "{} {}", a.len(), b.len());
        assert!(a.starts_with("net:aaa"));
        assert_ne!(a, b, "tags that differ past the cut still differ");
        // Multi-byte characters are never split.
        assert!(port_alias(&format!("net:{}", "é".repeat(200))).len() <= 255);
    }
}
