//! CNI spec versions this plugin speaks.

pub const LATEST: &str = "1.1.0";
pub const SUPPORTED: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

pub fn is_supported(v: &str) -> bool {
    SUPPORTED.contains(&v)
}

/// Results before 1.0.0 carry `"version"` on each IP.
pub fn ips_carry_version(v: &str) -> bool {
    v.starts_with("0.")
}

/// CHECK exists since 0.4.0.
pub fn has_check(v: &str) -> bool {
    v != "0.3.0" && v != "0.3.1"
}

/// STATUS and GC exist since 1.1.0.
pub fn has_status_gc(v: &str) -> bool {
    v == "1.1.0"
}
