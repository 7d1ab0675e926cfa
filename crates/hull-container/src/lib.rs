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
pub mod events;
mod fds;
pub mod features;
pub mod hooks;
pub mod init;
pub mod kill;
pub mod ps;
pub mod query;
pub mod run;
mod seccomp_notify;
pub mod start;
pub mod state_store;
pub mod status;
pub mod text_table;
pub mod tty_relay;
mod unix_socket;
pub mod update_flags;

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

/// Where debug lines go; set by the CLI only with `--debug`, so that
/// without it a debug line costs one atomic load and no formatting.
static DEBUG: OnceLock<fn(&str)> = OnceLock::new();

pub fn set_debug_sink(f: fn(&str)) {
    let _ = DEBUG.set(f);
}

/// A debug line, built only when `--debug` is on.
pub(crate) fn debug(msg: impl FnOnce() -> String) {
    if let Some(f) = DEBUG.get() {
        f(&msg());
    }
}
