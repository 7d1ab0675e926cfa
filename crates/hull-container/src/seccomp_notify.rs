//! SCMP_ACT_NOTIFY: the seccomp listener fd goes to the agent listening on
//! `linux.seccomp.listenerPath`, with the container process state
//! (config-linux.md, "The Container Process State").

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use oci_spec::runtime::Spec;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::state_store::Record;
use crate::status::{self, Status};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerProcessState<'a> {
    oci_version: &'static str,
    fds: [&'static str; 1],
    pid: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
    state: serde_json::Value,
}

pub fn hand_over(spec: &Spec, rec: &Record, listener: OwnedFd) -> Result<()> {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let path = seccomp
        .and_then(|s| s.listener_path().as_ref())
        .ok_or_else(|| {
            Error::Config("linux.seccomp.listenerPath: required with SCMP_ACT_NOTIFY".into())
        })?;
    let state: serde_json::Value = serde_json::from_str(&status::hook_state(rec, Status::Creating))
        .map_err(|e| Error::Other(e.to_string()))?;
    let msg = ContainerProcessState {
        oci_version: status::OCI_VERSION,
        fds: ["seccompFd"],
        pid: rec.pid,
        metadata: seccomp.and_then(|s| s.listener_metadata().as_deref()),
        state,
    };
    let body = serde_json::to_vec(&msg).map_err(|e| Error::Other(e.to_string()))?;
    let sock = crate::unix_socket::connect(path, 3).map_err(|e| {
        Error::Config(format!(
            "linux.seccomp.listenerPath {}: {e}",
            path.display()
        ))
    })?;
    hull_sys::send_fd(sock.as_fd(), &body, listener.as_raw_fd())
        .map_err(|e| Error::sys(format!("send seccomp fd to {}", path.display()), e))
}
