//! Converter from the containers-common / Docker `seccomp.json` format to an
//! OCI `linux.seccomp` profile, evaluated for this host and a capability set
//! (as Docker and podman do when they generate `config.json`).
//!
//! The format extends OCI with `archMap` (native arch -> sub-architectures) and,
//! per syscall entry, `includes`/`excludes` with `caps`, `arches` (Go names such
//! as `amd64`) and `minKernel`. Entries whose conditions do not hold are dropped.

use oci_spec::runtime::{Arch, LinuxSeccomp};
use serde_json::{Map, Value};

/// Errors of [`from_containers_profile`]; `field` is a JSON path like `syscalls[3].action`.
#[derive(Debug, thiserror::Error)]
pub enum ContainersProfileError {
    #[error("seccomp profile: invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("seccomp profile: {field}: {message}")]
    Field { field: String, message: String },
}

fn field_err(field: impl Into<String>, message: impl ToString) -> ContainersProfileError {
    ContainersProfileError::Field {
        field: field.into(),
        message: message.to_string(),
    }
}

/// Go's GOARCH name of the native architecture, as used in `includes.arches`.
fn go_arch() -> &'static str {
    match crate::native_arch() {
        Arch::ScmpArchX86_64 => "amd64",
        Arch::ScmpArchX32 => "x32",
        Arch::ScmpArchX86 => "386",
        Arch::ScmpArchAarch64 => "arm64",
        Arch::ScmpArchArm => "arm",
        _ => std::env::consts::ARCH,
    }
}

/// (major, minor) of the running kernel.
fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: utsname is plain data; uname fills it and NUL-terminates release.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates `release` within the array.
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) };
    parse_version(release.to_str().ok()?)
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn normalize_cap(c: &str) -> String {
    let c = c.to_ascii_uppercase();
    if c.starts_with("CAP_") {
        c
    } else {
        format!("CAP_{c}")
    }
}

fn strings(v: Option<&Value>, field: &str) -> Result<Vec<String>, ContainersProfileError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| field_err(field, e)),
    }
}

/// Whether the `includes`/`excludes` of one entry hold for this host and `caps`.
fn applies(
    entry: &Map<String, Value>,
    field: &str,
    caps: &[String],
    kernel: Option<(u32, u32)>,
) -> Result<bool, ContainersProfileError> {
    let arch = go_arch();
    for (key, include) in [("includes", true), ("excludes", false)] {
        let Some(cond) = entry.get(key).and_then(Value::as_object) else {
            continue;
        };
        let f = format!("{field}.{key}");
        let arches = strings(cond.get("arches"), &format!("{f}.arches"))?;
        let wanted = strings(cond.get("caps"), &format!("{f}.caps"))?;
        let has = |c: &String| caps.contains(&normalize_cap(c));
        if include {
            if !arches.is_empty() && !arches.iter().any(|a| a == arch) {
                return Ok(false);
            }
            if !wanted.iter().all(has) {
                return Ok(false);
            }
            if let Some(min) = cond.get("minKernel").and_then(Value::as_str) {
                let min = parse_version(min)
                    .ok_or_else(|| field_err(format!("{f}.minKernel"), "not a version"))?;
                if kernel.is_some_and(|k| k < min) {
                    return Ok(false);
                }
            }
        } else if arches.iter().any(|a| a == arch) || wanted.iter().any(has) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Converts a containers-common/Docker profile for a process holding `caps`
/// (names like `CAP_SYS_ADMIN`; usually the bounding set).
pub fn from_containers_profile(
    json: &str,
    caps: &[&str],
) -> Result<LinuxSeccomp, ContainersProfileError> {
    let root: Value = serde_json::from_str(json)?;
    let root = root
        .as_object()
        .ok_or_else(|| field_err("(root)", "not an object"))?;
    let caps: Vec<String> = caps.iter().map(|c| normalize_cap(c)).collect();
    let kernel = kernel_version();

    let mut out = Map::new();
    for key in [
        "defaultAction",
        "defaultErrnoRet",
        "flags",
        "listenerPath",
        "listenerMetadata",
    ] {
        if let Some(v) = root.get(key).filter(|v| !v.is_null()) {
            out.insert(key.to_string(), v.clone());
        }
    }

    let listed = root.get("architectures").filter(|v| !v.is_null());
    let arch_map = root.get("archMap").and_then(Value::as_array);
    match (listed, arch_map) {
        (Some(_), Some(m)) if !m.is_empty() => {
            return Err(field_err(
                "archMap",
                "both architectures and archMap are set",
            ))
        }
        (_, Some(m)) => {
            let native: Value = serde_json::to_value(crate::native_arch())?;
            let mut arches = Vec::new();
            for (i, e) in m.iter().enumerate() {
                if e.get("architecture") == Some(&native) {
                    arches.push(native.clone());
                    let subs = e.get("subArchitectures").cloned().unwrap_or(Value::Null);
                    let subs: Vec<Value> = serde_json::from_value(subs)
                        .map_err(|err| field_err(format!("archMap[{i}].subArchitectures"), err))?;
                    arches.extend(subs);
                }
            }
            out.insert("architectures".into(), Value::Array(arches));
        }
        (Some(v), None) => {
            out.insert("architectures".into(), v.clone());
        }
        (None, None) => {}
    }

    let mut syscalls = Vec::new();
    let entries = match root.get("syscalls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(field_err("syscalls", "not an array")),
    };
    for (i, e) in entries.iter().enumerate() {
        let field = format!("syscalls[{i}]");
        let e = e
            .as_object()
            .ok_or_else(|| field_err(&field, "not an object"))?;
        if !applies(e, &field, &caps, kernel)? {
            continue;
        }
        let mut s = Map::new();
        let names = match (e.get("names"), e.get("name")) {
            (Some(n), _) if !n.is_null() => n.clone(),
            (_, Some(Value::String(n))) => Value::Array(vec![Value::String(n.clone())]),
            _ => return Err(field_err(&field, "no names")),
        };
        s.insert("names".into(), names);
        for key in ["action", "errnoRet", "args"] {
            if let Some(v) = e.get(key).filter(|v| !v.is_null()) {
                s.insert(key.into(), v.clone());
            }
        }
        syscalls.push(Value::Object(s));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));

    // Deserialize field by field so that an error names the offending field.
    let out = Value::Object(out);
    if let Some(list) = out.get("syscalls").and_then(Value::as_array) {
        for (i, s) in list.iter().enumerate() {
            serde_json::from_value::<oci_spec::runtime::LinuxSyscall>(s.clone())
                .map_err(|e| field_err(format!("syscalls[{i}] (after filtering)"), e))?;
        }
    }
    serde_json::from_value(out).map_err(|e| field_err("(profile)", e))
}
