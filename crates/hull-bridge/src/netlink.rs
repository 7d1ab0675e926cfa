//! A small synchronous rtnetlink client: just the link, address and route
//! requests the bridge plugin needs, one request at a time with an ACK.

use std::net::IpAddr;
use std::os::fd::RawFd;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    AfSpecBridge, BridgeFlag, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridge, InfoBridgePort,
    InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{constants::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("netlink reply could not be decoded: {0}")]
    Decode(String),
    #[error("netlink {op}: {errno}")]
    Kernel { op: String, errno: Errno },
}

impl NetlinkError {
    pub fn errno(&self) -> Option<Errno> {
        match self {
            NetlinkError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, NetlinkError>;

/// One address on a link, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddr {
    pub ip: IpAddr,
    pub prefix: u8,
}

/// What we read back about a link.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Vec<u8>,
    pub mtu: u32,
    pub master: Option<u32>,
    pub kind: Option<String>,
    /// IFLA_IFALIAS: hull-bridge tags the host end of each veth with it.
    pub alias: Option<String>,
}

pub struct Netlink {
    sock: Socket,
    seq: u32,
}

fn family_of(ip: &IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn route_addr(ip: &IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(v) => RouteAddress::Inet(*v),
        IpAddr::V6(v) => RouteAddress::Inet6(*v),
    }
}

fn parse_link(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        mac: Vec::new(),
        mtu: 0,
        master: None,
        kind: None,
        alias: None,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::Address(m) => link.mac = m.clone(),
            LinkAttribute::Mtu(m) => link.mtu = *m,
            LinkAttribute::Controller(m) => link.master = Some(*m),
            LinkAttribute::IfAlias(a) => link.alias = Some(a.clone()),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(k) = info {
                        link.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

impl Netlink {
    /// Opens a route netlink socket in the calling thread's network namespace.
    pub fn open() -> Result<Self> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Socket)?;
        sock.bind_auto().map_err(NetlinkError::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Socket)?;
        Ok(Netlink { sock, seq: 1 })
    }

    fn request(
        &mut self,
        op: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        self.seq = self.seq.wrapping_add(1);
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(NetlinkError::Socket)?;

        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full().map_err(NetlinkError::Socket)?;
            let mut off = 0;
            while off < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..])
                    .map_err(|e| NetlinkError::Decode(e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(NetlinkError::Decode("zero-length message".into()));
                }
                off += (len + 3) & !3;
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            Some(code) => Err(NetlinkError::Kernel {
                                op: op.to_string(),
                                errno: Errno::from_raw(-code.get()),
                            }),
                            None => Ok(out),
                        };
                    }
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(
            &format!("get link {name}"),
            RouteNetlinkMessage::GetLink(msg),
            0,
        ) {
            Ok(replies) => Ok(replies.iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(parse_link(l)),
                _ => None,
            })),
            Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a bridge with a fixed MAC, so that the gateway's MAC does not
    /// change as ports come and go.
    pub fn create_bridge(&mut self, name: &str, mtu: Option<u32>, mac: [u8; 6]) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.request(
            &format!("create bridge {name}"),
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    /// Creates a veth pair whose peer is created directly inside the network
    /// namespace `peer_netns`, already carrying its final name.
    pub fn create_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_netns: RawFd,
        mtu: Option<u32>,
        peer_mac: Option<[u8; 6]>,
    ) -> Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_msg.attributes.push(LinkAttribute::NetNsFd(peer_netns));
        if let Some(mac) = peer_mac {
            peer_msg
                .attributes
                .push(LinkAttribute::Address(mac.to_vec()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
            peer_msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.request(
            &format!("create veth {host}/{peer}"),
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    fn set_link(
        &mut self,
        op: &str,
        index: u32,
        build: impl FnOnce(&mut LinkMessage),
    ) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        build(&mut msg);
        self.request(op, RouteNetlinkMessage::SetLink(msg), 0)?;
        Ok(())
    }

    pub fn set_up(&mut self, index: u32) -> Result<()> {
        self.set_link(&format!("set link {index} up"), index, |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    pub fn set_promisc(&mut self, index: u32) -> Result<()> {
        self.set_link(&format!("set link {index} promisc"), index, |m| {
            m.header.flags = LinkFlags::Promisc;
            m.header.change_mask = LinkFlags::Promisc;
        })
    }

    /// Plugs link `index` into bridge `master` and sets its alias, in one
    /// request.
    pub fn set_master_and_alias(&mut self, index: u32, master: u32, alias: &str) -> Result<()> {
        self.set_link(&format!("enslave link {index} to {master}"), index, |m| {
            m.attributes.push(LinkAttribute::Controller(master));
            m.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
        })
    }

    /// Every link of this network namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let replies = self.request(
            "dump links",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(parse_link(l)),
                _ => None,
            })
            .collect())
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        self.set_link(&format!("set link {index} mtu {mtu}"), index, |m| {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        })
    }

    /// Sets IFLA_BRPORT_MODE (hairpin) on a bridge port.
    pub fn set_hairpin(&mut self, index: u32, on: bool) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                on,
            )])),
        ]));
        self.request(
            &format!("set hairpin on link {index}"),
            RouteNetlinkMessage::NewLink(msg),
            0,
        )?;
        Ok(())
    }

    /// Turns on VLAN filtering on a bridge.
    pub fn set_vlan_filtering(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Bridge),
            LinkInfo::Data(InfoData::Bridge(vec![InfoBridge::VlanFiltering(true)])),
        ]));
        self.request(
            &format!("enable vlan filtering on link {index}"),
            RouteNetlinkMessage::NewLink(msg),
            0,
        )?;
        Ok(())
    }

    /// Adds (`add`) or removes VLAN `vid` on a bridge port, or on the bridge
    /// device itself (`on_bridge`). Added VLANs are the PVID, untagged.
    pub fn bridge_vlan(&mut self, index: u32, vid: u16, on_bridge: bool, add: bool) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.interface_family = AddressFamily::Bridge;
        msg.header.index = index;
        let mut spec = Vec::new();
        if on_bridge {
            spec.push(AfSpecBridge::Flags(BridgeFlag::LowerDev));
        }
        let flags = if add {
            BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged
        } else {
            BridgeVlanInfoFlags::empty()
        };
        spec.push(AfSpecBridge::VlanInfo(BridgeVlanInfo { flags, vid }));
        msg.attributes.push(LinkAttribute::AfSpecBridge(spec));
        let op = format!(
            "{} vlan {vid} on link {index}",
            if add { "add" } else { "remove" }
        );
        let req = if add {
            RouteNetlinkMessage::SetLink(msg)
        } else {
            RouteNetlinkMessage::DelLink(msg)
        };
        self.request(&op, req, 0)?;
        Ok(())
    }

    pub fn del_link(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.request(
            &format!("delete link {index}"),
            RouteNetlinkMessage::DelLink(msg),
            0,
        )?;
        Ok(())
    }

    pub fn addrs(&mut self, index: u32) -> Result<Vec<LinkAddr>> {
        let replies = self.request(
            "dump addresses",
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewAddress(a) = r else {
                continue;
            };
            if a.header.index != index {
                continue;
            }
            let ip = a.attributes.iter().find_map(|attr| match attr {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let ip = ip.or_else(|| {
                a.attributes.iter().find_map(|attr| match attr {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
            if let Some(ip) = ip {
                out.push(LinkAddr {
                    ip,
                    prefix: a.header.prefix_len,
                });
            }
        }
        Ok(out)
    }

    fn addr_msg(index: u32, addr: LinkAddr) -> AddressMessage {
        let mut msg = AddressMessage::default();
        msg.header.family = family_of(&addr.ip);
        msg.header.prefix_len = addr.prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr.ip));
        msg.attributes.push(AddressAttribute::Address(addr.ip));
        msg
    }

    /// Adds an address; IPv6 addresses skip duplicate address detection so
    /// they are usable at once.
    pub fn add_addr(&mut self, index: u32, addr: LinkAddr) -> Result<()> {
        let mut msg = Self::addr_msg(index, addr);
        if addr.ip.is_ipv6() {
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.request(
            &format!("add address {}/{} to link {index}", addr.ip, addr.prefix),
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    pub fn del_addr(&mut self, index: u32, addr: LinkAddr) -> Result<()> {
        let msg = Self::addr_msg(index, addr);
        self.request(
            &format!(
                "delete address {}/{} from link {index}",
                addr.ip, addr.prefix
            ),
            RouteNetlinkMessage::DelAddress(msg),
            0,
        )?;
        Ok(())
    }

    /// Adds (or replaces) a route to `dst/prefix` via `gw` (if any) out of `oif`.
    pub fn add_route(
        &mut self,
        dst: IpAddr,
        prefix: u8,
        gw: Option<IpAddr>,
        oif: u32,
    ) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family_of(&dst);
        msg.header.destination_prefix_length = prefix;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.kind = RouteType::Unicast;
        msg.header.scope = if gw.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        if prefix > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(route_addr(&dst)));
        }
        if let Some(gw) = gw {
            msg.attributes
                .push(RouteAttribute::Gateway(route_addr(&gw)));
        }
        msg.attributes.push(RouteAttribute::Oif(oif));
        self.request(
            &format!("add route {dst}/{prefix}"),
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
        )?;
        Ok(())
    }

    /// Whether a route to exactly `dst/prefix` exists in the main table.
    pub fn has_route(&mut self, dst: IpAddr, prefix: u8, gw: Option<IpAddr>) -> Result<bool> {
        let mut req = RouteMessage::default();
        req.header.address_family = family_of(&dst);
        let replies = self.request(
            "dump routes",
            RouteNetlinkMessage::GetRoute(req),
            NLM_F_DUMP,
        )?;
        for r in replies {
            let RouteNetlinkMessage::NewRoute(m) = r else {
                continue;
            };
            if m.header.destination_prefix_length != prefix || m.header.table != 254 {
                continue;
            }
            let mut rdst = None;
            let mut rgw = None;
            for a in &m.attributes {
                match a {
                    RouteAttribute::Destination(d) => rdst = Some(d.clone()),
                    RouteAttribute::Gateway(g) => rgw = Some(g.clone()),
                    _ => {}
                }
            }
            let dst_ok = prefix == 0 || rdst == Some(route_addr(&dst));
            let gw_ok = match gw {
                Some(g) => rgw == Some(route_addr(&g)),
                None => true,
            };
            if dst_ok && gw_ok {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
