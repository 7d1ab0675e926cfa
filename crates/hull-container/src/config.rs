//! Loading `config.json` once and checking what serde cannot: every error
//! names the field (as a JSON path) and what is wrong with it.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// A loaded bundle: the spec and the absolute paths derived from it.
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
}

pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join("config.json");
    let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let spec = parse_spec(&data)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Config("root: missing (root.path is required on Linux)".into()))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| Error::Config(format!("root.path {}: {e}", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(Error::Config(format!(
            "root.path {}: not a directory",
            rootfs.display()
        )));
    }
    validate(&spec)?;
    Ok(Bundle { dir, spec, rootfs })
}

/// Parses a spec, naming the JSON path of the first bad field. The path is
/// tracked only when parsing fails: tracking it costs every field a string
/// push on the hot path of `create`.
pub fn parse_spec(data: &[u8]) -> Result<Spec> {
    if let Ok(spec) = serde_json::from_slice(data) {
        return Ok(spec);
    }
    let de = &mut serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Error::Config(format!("{path}: {}", e.inner()))
    })
}

fn validate(spec: &Spec) -> Result<()> {
    if !spec.version().starts_with("1.") {
        return Err(Error::Config(format!(
            "ociVersion: unsupported version {:?} (hull supports 1.x)",
            spec.version()
        )));
    }
    let process = spec.process().as_ref();
    if let Some(p) = process {
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::Config("process.args: must not be empty".into()));
        }
        if !p.cwd().is_absolute() {
            return Err(Error::Config(format!(
                "process.cwd: {:?} is not an absolute path",
                p.cwd()
            )));
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let mut seen = Vec::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        if seen.contains(&ns.typ()) {
            return Err(Error::Config(format!(
                "linux.namespaces[{i}]: duplicate namespace type {}",
                ns.typ()
            )));
        }
        seen.push(ns.typ());
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(Error::Config(format!(
                    "linux.namespaces[{i}].path: {:?} is not absolute",
                    p
                )));
            }
        }
    }
    let has_userns = seen.contains(&LinuxNamespaceType::User);
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if maps && !has_userns {
        return Err(Error::Config(
            "linux.uidMappings: set without a user namespace".into(),
        ));
    }
    if linux.time_offsets().is_some() && !seen.contains(&LinuxNamespaceType::Time) {
        return Err(Error::Config(
            "linux.timeOffsets: set without a time namespace".into(),
        ));
    }
    for key in linux.sysctl().iter().flat_map(|m| m.keys()) {
        if key.contains("..") || key.starts_with('/') || key.is_empty() {
            return Err(Error::Config(format!("linux.sysctl: invalid key {key:?}")));
        }
    }
    Ok(())
}

/// Compiles `linux.seccomp`. `create` does it once, after the clone and
/// while the init makes its mounts (the compile is off the critical path),
/// and hands the program to the init; a bad profile fails `create` then,
/// not at `start` (with noNewPrivileges the filter is only installed right
/// before the exec), and the cleanup of a failed `create` removes what was
/// made.
pub fn compile_seccomp(spec: &Spec) -> Result<Option<hull_seccomp::Compiled>> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    hull_seccomp::compile(profile)
        .map(Some)
        .map_err(|e| Error::Config(format!("linux.{e}")))
}

/// Whether the spec asks for a new namespace of `typ` (no path).
pub fn new_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).any(|ns| ns.typ() == typ && ns.path().is_none())
}

/// Whether the spec lists a namespace of `typ` at all.
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).any(|ns| ns.typ() == typ)
}

pub fn namespaces(spec: &Spec) -> impl Iterator<Item = &oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .iter()
        .flat_map(|l| l.namespaces().iter().flatten())
}
