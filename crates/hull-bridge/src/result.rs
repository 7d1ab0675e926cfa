//! The CNI success result, printed in the shape the requested version expects.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    pub interface: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
}

#[derive(Debug, Clone, Default)]
pub struct CniResult {
    pub interfaces: Vec<Interface>,
    pub ips: Vec<IpConfig>,
    pub routes: Vec<Route>,
    pub dns: Value,
}

pub fn mac_string(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl CniResult {
    pub fn to_json(&self, version: &str) -> Value {
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| {
                let mut o = Map::new();
                o.insert("name".into(), json!(i.name));
                o.insert("mac".into(), json!(i.mac));
                if let Some(s) = &i.sandbox {
                    o.insert("sandbox".into(), json!(s));
                }
                Value::Object(o)
            })
            .collect();
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut o = Map::new();
                if crate::version::ips_carry_version(version) {
                    let v = if ip.address.addr.is_ipv4() { "4" } else { "6" };
                    o.insert("version".into(), json!(v));
                }
                o.insert("address".into(), json!(ip.address.to_string()));
                if let Some(gw) = ip.gateway {
                    o.insert("gateway".into(), json!(gw.to_string()));
                }
                if let Some(i) = ip.interface {
                    o.insert("interface".into(), json!(i));
                }
                Value::Object(o)
            })
            .collect();
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| {
                let mut o = Map::new();
                o.insert("dst".into(), json!(r.dst.to_string()));
                if let Some(gw) = r.gw {
                    o.insert("gw".into(), json!(gw.to_string()));
                }
                Value::Object(o)
            })
            .collect();
        let mut out = Map::new();
        out.insert("cniVersion".into(), json!(version));
        if !interfaces.is_empty() {
            out.insert("interfaces".into(), Value::Array(interfaces));
        }
        out.insert("ips".into(), Value::Array(ips));
        if !routes.is_empty() {
            out.insert("routes".into(), Value::Array(routes));
        }
        let dns = if self.dns.is_null() {
            json!({})
        } else {
            self.dns.clone()
        };
        out.insert("dns".into(), dns);
        Value::Object(out)
    }

    /// Reads a result of any supported version (a prevResult or the output of
    /// a delegated IPAM plugin). Unknown or malformed entries are skipped.
    pub fn from_json(v: &Value) -> CniResult {
        let mut r = CniResult::default();
        for i in v
            .get("interfaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            r.interfaces.push(Interface {
                name: str_of(i, "name").unwrap_or_default(),
                mac: str_of(i, "mac").unwrap_or_default(),
                sandbox: str_of(i, "sandbox"),
            });
        }
        for ip in v.get("ips").and_then(Value::as_array).into_iter().flatten() {
            let Some(address) = str_of(ip, "address").and_then(|a| a.parse().ok()) else {
                continue;
            };
            r.ips.push(IpConfig {
                address,
                gateway: str_of(ip, "gateway").and_then(|g| g.parse().ok()),
                interface: ip
                    .get("interface")
                    .and_then(Value::as_u64)
                    .map(|i| i as usize),
            });
        }
        for rt in v
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(dst) = str_of(rt, "dst").and_then(|a| a.parse().ok()) else {
                continue;
            };
            r.routes.push(Route {
                dst,
                gw: str_of(rt, "gw").and_then(|g| g.parse().ok()),
            });
        }
        r.dns = v.get("dns").cloned().unwrap_or(Value::Null);
        r
    }
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}
