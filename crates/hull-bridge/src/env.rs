//! The CNI_* environment a runtime passes to the plugin.

use crate::cni_error::{self, CniError};

/// CNI_ARGS keys this plugin reads or knowingly ignores.
const KNOWN_ARGS: &[&str] = &[
    "IgnoreUnknown",
    "MAC",
    "K8S_POD_NAMESPACE",
    "K8S_POD_NAME",
    "K8S_POD_INFRA_CONTAINER_ID",
    "K8S_POD_UID",
];

#[derive(Debug, Clone, Default)]
pub struct CniEnv {
    pub command: String,
    pub container_id: String,
    pub netns: String,
    pub ifname: String,
    pub args: Vec<(String, String)>,
    pub path: String,
}

/// Which variables each command needs (CNI spec, "Parameters").
const REQUIRED: &[(&str, &[&str])] = &[
    ("ADD", &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]),
    ("CHECK", &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]),
    ("DEL", &["CNI_CONTAINERID", "CNI_IFNAME"]),
    ("GC", &[]),
    ("STATUS", &[]),
    ("VERSION", &[]),
];

impl CniEnv {
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<CniEnv, CniError> {
        let bad = |m: String| CniError::new(cni_error::INVALID_ENV, "invalid environment", m);
        let command = get("CNI_COMMAND").ok_or_else(|| bad("CNI_COMMAND is not set".into()))?;
        let required = REQUIRED
            .iter()
            .find(|(c, _)| *c == command)
            .map(|(_, r)| *r)
            .ok_or_else(|| bad(format!("CNI_COMMAND {command:?} is not a CNI command")))?;
        for var in required {
            if get(var).unwrap_or_default().is_empty() {
                return Err(bad(format!("{var} is required for {command}")));
            }
        }
        let ifname = get("CNI_IFNAME").unwrap_or_default();
        if ifname.len() > 15 || ifname.contains(['/', ' ', ':']) || ifname == "." || ifname == ".."
        {
            return Err(bad(format!(
                "CNI_IFNAME {ifname:?} is not a valid interface name"
            )));
        }
        let mut args = Vec::new();
        for kv in get("CNI_ARGS")
            .unwrap_or_default()
            .split(';')
            .filter(|s| !s.is_empty())
        {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad(format!("CNI_ARGS entry {kv:?} is not KEY=VALUE")))?;
            args.push((k.to_string(), v.to_string()));
        }
        Ok(CniEnv {
            command,
            container_id: get("CNI_CONTAINERID").unwrap_or_default(),
            netns: get("CNI_NETNS").unwrap_or_default(),
            ifname,
            args,
            path: get("CNI_PATH").unwrap_or_default(),
        })
    }

    /// CNI_ARGS keys we do not understand are an error (code 2) unless the
    /// runtime passed `IgnoreUnknown=1`, as the CNI conventions ask.
    pub fn check_args(&self) -> Result<(), CniError> {
        let ignore = matches!(
            self.arg("IgnoreUnknown"),
            Some("1" | "true" | "TRUE" | "True")
        );
        if ignore {
            return Ok(());
        }
        match self
            .args
            .iter()
            .find(|(k, _)| !KNOWN_ARGS.contains(&k.as_str()))
        {
            Some((k, _)) => Err(CniError::new(
                cni_error::UNSUPPORTED_FIELD,
                "unsupported field",
                format!("CNI_ARGS key {k:?} is not supported (pass IgnoreUnknown=1 to ignore it)"),
            )),
            None => Ok(()),
        }
    }

    /// CNI_ARGS as received, for plugins we delegate to.
    pub fn args_string(&self) -> String {
        self.args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
