//! The CNI error object and its well-known codes.

use serde::Serialize;

pub const INCOMPATIBLE_VERSION: u32 = 1;
pub const UNSUPPORTED_FIELD: u32 = 2;
pub const UNKNOWN_CONTAINER: u32 = 3;
pub const INVALID_ENV: u32 = 4;
pub const IO_FAILURE: u32 = 5;
pub const DECODE_FAILURE: u32 = 6;
pub const INVALID_CONFIG: u32 = 7;
pub const TRY_AGAIN: u32 = 11;
/// Plugin-specific: the address pool has no free address left.
pub const POOL_EXHAUSTED: u32 = 100;
/// Plugin-specific: a kernel (netlink) operation failed.
pub const NETLINK_FAILURE: u32 = 101;
/// Plugin-specific: nftables could not be programmed.
pub const FIREWALL_FAILURE: u32 = 102;
/// Plugin-specific: CHECK found the attachment differs from what ADD made.
pub const CHECK_FAILED: u32 = 103;

/// An error as the CNI spec prints it: `{cniVersion, code, msg, details}`.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{msg}: {details}")]
pub struct CniError {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    pub code: u32,
    pub msg: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        CniError {
            cni_version: crate::version::LATEST.to_string(),
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }
}
