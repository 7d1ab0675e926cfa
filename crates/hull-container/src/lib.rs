//! hull-container: the OCI container lifecycle.
//!
//! One module per operation (`create`, `start`, `kill`, `delete`, `run`,
//! `query` for state and list); `init` is the container's init process;
//! `state_store` keeps containers between commands.

pub mod cgroup_ops;
pub mod channel;
pub mod config;
pub mod container_exec;
pub mod create;
pub mod default_spec;
pub mod delete;
mod device_rules;
pub mod error;
mod fds;
pub mod features;
pub mod hooks;
pub mod init;
pub mod kill;
pub mod query;
pub mod run;
mod seccomp_notify;
pub mod start;
pub mod state_store;
pub mod status;
pub mod tty_relay;
mod unix_socket;

pub use error::{Error, Result};

use std::sync::OnceLock;

/// Where library warnings go; the CLI points this at its log.
static WARN: OnceLock<fn(&str)> = OnceLock::new();

pub fn set_warn_sink(f: fn(&str)) {
    let _ = WARN.set(f);
}

pub(crate) fn warn(msg: &str) {
    match WARN.get() {
        Some(f) => f(msg),
        None => eprintln!("warning: {msg}"),
    }
}
