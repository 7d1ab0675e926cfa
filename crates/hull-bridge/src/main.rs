//! hull-bridge: a CNI plugin giving containers docker0-style networking
//! (a Linux bridge, veth pairs, host-local compatible IPAM, nftables NAT).

mod bridge;
mod cni_error;
mod config;
mod env;
mod hook;
mod ipam;
mod ipnet;
mod netlink;
mod netns;
mod nfnetlink;
mod nft;
mod plugin;
mod result;
mod version;

/// With musl, dlmalloc instead of musl's own allocator (crates/hull/Cargo.toml
/// says why).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::io::Read;
use std::process::ExitCode;

use cni_error::CniError;

fn read_stdin() -> Result<Vec<u8>, CniError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .map_err(|e| CniError::new(cni_error::IO_FAILURE, "cannot read stdin", e.to_string()))?;
    Ok(buf)
}

fn run() -> Result<Option<serde_json::Value>, CniError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("hook") {
        let state = read_stdin()?;
        let (env, conf) = hook::prepare(&args[1..], &state)?;
        return plugin::run(&env, &conf);
    }
    let env = env::CniEnv::from_vars(|k| std::env::var(k).ok())?;
    // VERSION may be run with nothing (or a closed stream) on stdin.
    let stdin = if env.command == "VERSION" {
        read_stdin().unwrap_or_default()
    } else {
        read_stdin()?
    };
    plugin::run(&env, &stdin)
}

fn main() -> ExitCode {
    match run() {
        Ok(Some(v)) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
            ExitCode::FAILURE
        }
    }
}
