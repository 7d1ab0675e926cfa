//! The config.json `hull spec` writes: runc's default, with hull's name.

/// runc's default spec (busybox-friendly `sh`, read-only root, the usual
/// mounts, masked and read-only paths, a deny-all device cgroup rule).
const DEFAULT: &str = r#"{
  "ociVersion": "1.2.1",
  "process": {
    "terminal": true,
    "user": { "uid": 0, "gid": 0 },
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "hull",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": ["nosuid", "noexec", "nodev"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
  ],
  "linux": {
    "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
    ],
    "maskedPaths": [
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
      "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
    ]
  }
}
"#;

/// The default spec, with hull's default seccomp profile (a Docker-style
/// allowlist); `rootless` adds a user namespace mapping `uid`/`gid`
/// to root and drops what an unprivileged user cannot do, as runc does.
pub fn default_spec(rootless: bool, uid: u32, gid: u32) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(DEFAULT) else {
        return DEFAULT.to_string();
    };
    if let Ok(profile) = serde_json::to_value(hull_seccomp::default_profile()) {
        v["linux"]["seccomp"] = profile;
    }
    if !rootless {
        let mut out = serde_json::to_string_pretty(&v).unwrap_or_else(|_| DEFAULT.to_string());
        out.push('\n');
        return out;
    }
    let linux = &mut v["linux"];
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
        obj.insert(
            "uidMappings".into(),
            serde_json::json!([{ "containerID": 0, "hostID": uid, "size": 1 }]),
        );
        obj.insert(
            "gidMappings".into(),
            serde_json::json!([{ "containerID": 0, "hostID": gid, "size": 1 }]),
        );
    }
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({ "type": "user" }));
    }
    if let Some(mounts) = v["mounts"].as_array_mut() {
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/dev/pts" {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "gid=5");
                }
            }
            if m["destination"] == "/sys" {
                *m = serde_json::json!({
                    "destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
                });
            }
        }
    }
    let mut out = serde_json::to_string_pretty(&v).unwrap_or_else(|_| DEFAULT.to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_variants_parse_as_specs_with_a_compilable_seccomp_profile() {
        for rootless in [false, true] {
            let text = super::default_spec(rootless, 1000, 1000);
            let spec = crate::config::parse_spec(text.as_bytes()).expect("default spec parses");
            let profile = spec
                .linux()
                .as_ref()
                .and_then(|l| l.seccomp().as_ref())
                .expect("a seccomp profile");
            hull_seccomp::compile(profile).expect("the profile compiles");
        }
    }
}
