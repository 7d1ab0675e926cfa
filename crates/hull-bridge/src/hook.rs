//! OCI hook mode: `hull-bridge hook add|del --config FILE [--ifname NAME]`.
//!
//! As a `createRuntime` hook, `add` reads the OCI state on stdin, finds the
//! container's network namespace through its pid and runs ADD; as a
//! `poststop` hook, `del` runs DEL (the namespace is usually gone by then).

use serde::Deserialize;
use serde_json::Value;

use crate::cni_error::{self, CniError};
use crate::env::CniEnv;

const DEFAULT_CNI_PATH: &str = "/usr/lib/cni:/opt/cni/bin";

#[derive(Debug, Deserialize)]
struct OciState {
    id: String,
    #[serde(default)]
    pid: Option<i32>,
}

fn usage(msg: &str) -> CniError {
    CniError::new(
        cni_error::INVALID_ENV,
        "usage: hull-bridge hook add|del --config FILE [--ifname NAME]",
        msg,
    )
}

/// Takes a single config, or the first `hull-bridge` plugin of a conflist
/// with the list's name and cniVersion.
fn network_config(raw: &[u8]) -> Result<Vec<u8>, CniError> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| {
        CniError::new(
            cni_error::DECODE_FAILURE,
            "failed to decode network configuration",
            e.to_string(),
        )
    })?;
    let Some(plugins) = v.get("plugins").and_then(Value::as_array) else {
        return Ok(raw.to_vec());
    };
    let mut plugin = plugins
        .iter()
        .find(|p| p.get("type").and_then(Value::as_str) == Some("hull-bridge"))
        .cloned()
        .ok_or_else(|| usage("the conflist has no hull-bridge plugin"))?;
    if let Some(obj) = plugin.as_object_mut() {
        for key in ["name", "cniVersion"] {
            if let Some(val) = v.get(key) {
                obj.insert(key.to_string(), val.clone());
            }
        }
    }
    Ok(plugin.to_string().into_bytes())
}

/// Returns the CNI environment and stdin to run for this hook invocation.
pub fn prepare(args: &[String], state: &[u8]) -> Result<(CniEnv, Vec<u8>), CniError> {
    let command = match args.first().map(String::as_str) {
        Some("add") => "ADD",
        Some("del") => "DEL",
        _ => return Err(usage("first argument must be add or del")),
    };
    let mut config = None;
    let mut ifname = "eth0".to_string();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| usage(&format!("{a} needs a value")))?;
        match a.as_str() {
            "--config" => config = Some(value.clone()),
            "--ifname" => ifname = value.clone(),
            _ => return Err(usage(&format!("unknown option {a}"))),
        }
    }
    let config = config.ok_or_else(|| usage("--config is required"))?;
    let raw = std::fs::read(&config).map_err(|e| {
        CniError::new(
            cni_error::IO_FAILURE,
            "cannot read network configuration",
            format!("{config}: {e}"),
        )
    })?;
    let state: OciState = serde_json::from_slice(state).map_err(|e| {
        CniError::new(
            cni_error::DECODE_FAILURE,
            "failed to decode OCI state on stdin",
            e.to_string(),
        )
    })?;
    let netns = match (command, state.pid) {
        ("ADD", Some(pid)) if pid > 0 => format!("/proc/{pid}/ns/net"),
        ("ADD", _) => return Err(usage("OCI state has no pid")),
        _ => String::new(),
    };
    let env = CniEnv {
        command: command.to_string(),
        container_id: state.id,
        netns,
        ifname,
        args: Vec::new(),
        path: std::env::var("CNI_PATH").unwrap_or_else(|_| DEFAULT_CNI_PATH.to_string()),
    };
    Ok((env, network_config(&raw)?))
}
