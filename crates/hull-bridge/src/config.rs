//! The network configuration read from stdin, with defaults and validation.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::Value;

use crate::cni_error::{self, CniError};
use crate::ipnet::IpNet;

/// Bridge used when the config names none: not docker0, so both can coexist.
pub const DEFAULT_BRIDGE: &str = "hull0";
/// Subnet used when the config has no IPAM ranges. Chosen to avoid docker
/// (172.17.0.0/16 and its 172.16/12, 192.168/16 pools), podman (10.88.0.0/16,
/// then 10.89.x for created networks), Kubernetes service/pod defaults
/// (10.96.0.0/12, 10.244.0.0/16) and k3s (10.42/10.43).
pub const DEFAULT_SUBNET: &str = "10.77.0.0/16";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("network configuration is not valid JSON: {0}")]
    Decode(#[source] serde_json::Error),
    #[error("network configuration has no string cniVersion")]
    NoVersion,
    #[error("cniVersion {0:?} is not supported (supported: 0.3.0 .. 1.1.0)")]
    Version(String),
    #[error("invalid network configuration: {0}")]
    Schema(#[source] serde_json::Error),
    #[error("invalid network configuration: {0}")]
    Invalid(String),
}

impl From<ConfigError> for CniError {
    fn from(e: ConfigError) -> Self {
        let code = match e {
            ConfigError::Decode(_) => cni_error::DECODE_FAILURE,
            ConfigError::NoVersion | ConfigError::Schema(_) | ConfigError::Invalid(_) => {
                cni_error::INVALID_CONFIG
            }
            ConfigError::Version(_) => cni_error::INCOMPATIBLE_VERSION,
        };
        let msg = match e {
            ConfigError::Decode(_) => "failed to decode network configuration",
            ConfigError::Version(_) => "incompatible CNI version",
            _ => "invalid network configuration",
        };
        CniError::new(code, msg, e.to_string())
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default, rename = "hostIP")]
    pub host_ip: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeConf {
    pub subnet: IpNet,
    #[serde(default)]
    pub range_start: Option<IpAddr>,
    #[serde(default)]
    pub range_end: Option<IpAddr>,
    #[serde(default)]
    pub gateway: Option<IpAddr>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RouteConf {
    pub dst: IpNet,
    #[serde(default)]
    pub gw: Option<IpAddr>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IpamConf {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub subnet: Option<IpNet>,
    #[serde(default)]
    pub range_start: Option<IpAddr>,
    #[serde(default)]
    pub range_end: Option<IpAddr>,
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    #[serde(default)]
    pub ranges: Vec<Vec<RangeConf>>,
    #[serde(default)]
    pub routes: Vec<RouteConf>,
    #[serde(default)]
    pub data_dir: Option<String>,
    /// Addresses never handed out (in addition to the gateways).
    #[serde(default)]
    pub reserved: Vec<IpAddr>,
}

impl IpamConf {
    /// The built-in allocator serves configs with no ipam type; any other
    /// type names an IPAM plugin found through CNI_PATH.
    pub fn is_builtin(&self) -> bool {
        self.kind.is_empty()
    }

    /// Range sets with the single-range `subnet` shorthand folded in.
    pub fn range_sets(&self) -> Vec<Vec<RangeConf>> {
        let mut sets = self.ranges.clone();
        if let Some(subnet) = self.subnet {
            sets.insert(
                0,
                vec![RangeConf {
                    subnet,
                    range_start: self.range_start,
                    range_end: self.range_end,
                    gateway: self.gateway,
                }],
            );
        }
        sets
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    pub cni_version: String,
    pub name: String,
    #[serde(default)]
    pub bridge: Option<String>,
    #[serde(default)]
    pub is_gateway: bool,
    #[serde(default)]
    pub is_default_gateway: bool,
    #[serde(default)]
    pub force_address: bool,
    #[serde(default)]
    pub ip_masq: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub hairpin_mode: bool,
    #[serde(default)]
    pub promisc_mode: bool,
    #[serde(default)]
    pub vlan: Option<u16>,
    #[serde(default)]
    pub mac: Option<String>,
    /// Drop forwarded traffic between this bridge and other hull-bridge bridges.
    #[serde(default = "default_true")]
    pub isolate_bridges: bool,
    #[serde(default)]
    pub ipam: Option<IpamConf>,
    #[serde(default)]
    pub runtime_config: RuntimeConfig,
    #[serde(default)]
    pub prev_result: Option<Value>,
    #[serde(default, rename = "cni.dev/valid-attachments")]
    pub valid_attachments: Option<Vec<Attachment>>,
}

impl NetConf {
    pub fn bridge_name(&self) -> &str {
        self.bridge.as_deref().unwrap_or(DEFAULT_BRIDGE)
    }

    pub fn ipam(&self) -> IpamConf {
        let mut ipam = self.ipam.clone().unwrap_or_default();
        if ipam.is_builtin() && ipam.subnet.is_none() && ipam.ranges.is_empty() {
            ipam.subnet = DEFAULT_SUBNET.parse().ok();
        }
        ipam
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        let base = self
            .ipam
            .as_ref()
            .and_then(|i| i.data_dir.clone())
            .unwrap_or_else(|| DEFAULT_DATA_DIR.to_string());
        std::path::Path::new(&base).join(&self.name)
    }
}

/// Parses stdin in three steps so each failure gets its own CNI code:
/// JSON syntax (6), version (1), then fields (7).
pub fn parse(raw: &[u8]) -> Result<NetConf, ConfigError> {
    let value: Value = serde_json::from_slice(raw).map_err(ConfigError::Decode)?;
    let version = value
        .get("cniVersion")
        .and_then(Value::as_str)
        .ok_or(ConfigError::NoVersion)?;
    if !crate::version::is_supported(version) {
        return Err(ConfigError::Version(version.to_string()));
    }
    let conf: NetConf = serde_json::from_value(value).map_err(ConfigError::Schema)?;
    validate(&conf)?;
    Ok(conf)
}

fn validate(conf: &NetConf) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    if conf.name.is_empty() || conf.name.contains('/') || conf.name.starts_with('.') {
        return invalid(format!(
            "network name {:?} is not usable as a directory name",
            conf.name
        ));
    }
    let br = conf.bridge_name();
    if br.is_empty() || br.len() > 15 || br.contains(['/', ' ']) {
        return invalid(format!(
            "bridge name {br:?} is not a valid interface name (1-15 chars)"
        ));
    }
    if let Some(mtu) = conf.mtu {
        if !(68..=65535).contains(&mtu) {
            return invalid(format!("mtu {mtu} is out of range 68..65535"));
        }
    }
    if let Some(vlan) = conf.vlan {
        if vlan == 0 || vlan > 4094 {
            return invalid(format!("vlan {vlan} is out of range 1..4094"));
        }
    }
    let ipam = conf.ipam();
    if ipam.is_builtin() {
        let sets = ipam.range_sets();
        if sets.is_empty() || sets.iter().any(Vec::is_empty) {
            return invalid("ipam has an empty range set".into());
        }
        for r in sets.iter().flatten() {
            // Network, gateway, one container and (IPv4) broadcast at least.
            if r.subnet.host_bits() < 2 {
                return invalid(format!(
                    "subnet {} is too small: it needs room for a gateway and a container",
                    r.subnet
                ));
            }
            for (what, ip) in [
                ("rangeStart", r.range_start),
                ("rangeEnd", r.range_end),
                ("gateway", r.gateway),
            ] {
                if let Some(ip) = ip {
                    if !r.subnet.contains(&ip) {
                        return invalid(format!("{what} {ip} is outside subnet {}", r.subnet));
                    }
                }
            }
        }
    }
    for pm in &conf.runtime_config.port_mappings {
        let proto = pm.protocol.as_deref().unwrap_or("tcp");
        if !["tcp", "udp", "sctp"].contains(&proto) {
            return invalid(format!(
                "port mapping protocol {proto:?} is not tcp, udp or sctp"
            ));
        }
        if pm.host_port == 0 || pm.container_port == 0 {
            return invalid("port mapping with port 0".into());
        }
        if let Some(h) = &pm.host_ip {
            if !h.is_empty() && h.parse::<IpAddr>().is_err() {
                return invalid(format!("port mapping hostIP {h:?} is not an IP address"));
            }
        }
    }
    Ok(())
}

/// Parses a MAC address `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], ConfigError> {
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(ConfigError::Invalid(format!("{s:?} is not a MAC address")));
    }
    for (i, p) in parts.iter().enumerate() {
        mac[i] = u8::from_str_radix(p, 16)
            .map_err(|_| ConfigError::Invalid(format!("{s:?} is not a MAC address")))?;
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> u32 {
        CniError::from(parse(raw.as_bytes()).unwrap_err()).code
    }

    #[test]
    fn errors_map_to_cni_codes() {
        assert_eq!(code("{"), 6);
        assert_eq!(code(r#"{"cniVersion":"2.0.0","name":"n","type":"t"}"#), 1);
        assert_eq!(code(r#"{"name":"n","type":"t"}"#), 7);
        assert_eq!(
            code(r#"{"cniVersion":"1.0.0","name":"n","type":"t","mtu":"x"}"#),
            7
        );
        assert_eq!(
            code(r#"{"cniVersion":"1.0.0","name":"n","type":"t","ipam":{"subnet":"10.0.0.0/31"}}"#),
            7
        );
        assert_eq!(
            code(
                r#"{"cniVersion":"1.0.0","name":"n","type":"t","bridge":"a-very-long-bridge-name"}"#
            ),
            7
        );
        assert_eq!(
            code(
                r#"{"cniVersion":"1.0.0","name":"n","type":"t","ipam":{"subnet":"10.0.0.0/24","gateway":"10.1.0.1"}}"#
            ),
            7
        );
    }

    #[test]
    fn defaults() {
        let c = parse(br#"{"cniVersion":"0.4.0","name":"n","type":"hull-bridge"}"#).unwrap();
        assert_eq!(c.bridge_name(), "hull0");
        assert_eq!(
            c.ipam().range_sets()[0][0].subnet.to_string(),
            DEFAULT_SUBNET
        );
        assert!(c.isolate_bridges);
        assert_eq!(
            c.data_dir(),
            std::path::Path::new("/var/lib/cni/networks/n")
        );
        assert_eq!(
            parse_mac("02:42:ac:11:00:02").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 2]
        );
        assert!(parse_mac("02:42").is_err());
    }
}
