//! IPv4/IPv6 prefixes and address arithmetic (addresses as u128).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum IpNetError {
    #[error("{0:?} is not an IP prefix (ADDR/LEN)")]
    Syntax(String),
    #[error("prefix length {len} is too long for {addr}")]
    Length { addr: IpAddr, len: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

pub fn bits(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

pub fn to_u128(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u32::from(*v) as u128,
        IpAddr::V6(v) => u128::from(*v),
    }
}

/// Builds an address of the same family as `like` from a number.
pub fn from_u128(like: &IpAddr, n: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

impl IpNet {
    fn mask(&self) -> u128 {
        let host_bits = u32::from(bits(&self.addr) - self.prefix);
        if host_bits >= 128 {
            0
        } else {
            !((1u128 << host_bits) - 1) & self.family_max()
        }
    }

    fn family_max(&self) -> u128 {
        if self.addr.is_ipv4() {
            u32::MAX as u128
        } else {
            u128::MAX
        }
    }

    pub fn network(&self) -> IpAddr {
        from_u128(&self.addr, to_u128(&self.addr) & self.mask())
    }

    /// Highest address of the prefix (the broadcast address for IPv4).
    pub fn last(&self) -> IpAddr {
        from_u128(
            &self.addr,
            to_u128(&self.addr) | (!self.mask() & self.family_max()),
        )
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && (to_u128(ip) & self.mask()) == to_u128(&self.network())
    }

    /// Number of host bits.
    pub fn host_bits(&self) -> u8 {
        bits(&self.addr) - self.prefix
    }

    pub fn nth(&self, n: u128) -> IpAddr {
        from_u128(&self.addr, to_u128(&self.network()).wrapping_add(n))
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| IpNetError::Syntax(s.to_string()))?;
        let addr: IpAddr = a.parse().map_err(|_| IpNetError::Syntax(s.to_string()))?;
        let prefix: u8 = l.parse().map_err(|_| IpNetError::Syntax(s.to_string()))?;
        if prefix > bits(&addr) {
            return Err(IpNetError::Length { addr, len: prefix });
        }
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl serde::Serialize for IpNet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IpNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_arithmetic() {
        let n: IpNet = "10.231.1.77/24".parse().unwrap();
        assert_eq!(n.network().to_string(), "10.231.1.0");
        assert_eq!(n.last().to_string(), "10.231.1.255");
        assert!(n.contains(&"10.231.1.3".parse().unwrap()));
        assert!(!n.contains(&"10.231.2.3".parse().unwrap()));
        assert_eq!(n.nth(1).to_string(), "10.231.1.1");
    }

    #[test]
    fn v6_arithmetic() {
        let n: IpNet = "fd00:231::5/64".parse().unwrap();
        assert_eq!(n.network().to_string(), "fd00:231::");
        assert_eq!(n.nth(1).to_string(), "fd00:231::1");
        assert!("fd00::/129".parse::<IpNet>().is_err());
    }
}
