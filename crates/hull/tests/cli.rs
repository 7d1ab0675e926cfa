//! The command line as clients see it: exit codes, messages they match on,
//! JSON shapes, and bad input that must leave nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("hull-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("tempdir");
        Tmp(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hull(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hull"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run hull")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_has_runc_layout() {
    let o = Command::new(env!("CARGO_BIN_EXE_hull"))
        .arg("--version")
        .output()
        .expect("run hull");
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    assert!(
        lines.next().is_some_and(|l| l.starts_with("hull version ")),
        "{text}"
    );
    assert!(
        lines.next().is_some_and(|l| l.starts_with("commit: ")),
        "{text}"
    );
    assert!(
        lines.next().is_some_and(|l| l.starts_with("spec: 1.2")),
        "{text}"
    );
}

#[test]
fn unknown_container_fails_with_runc_wording() {
    let t = Tmp::new("unknown");
    for cmd in [
        &["state", "nope"][..],
        &["start", "nope"],
        &["kill", "nope", "9"],
        &["delete", "nope"],
        &["pause", "nope"],
        &["ps", "--format", "json", "nope"],
        &["exec", "nope", "true"],
    ] {
        let o = hull(&t.0, cmd);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert!(
            stderr(&o).contains("does not exist"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    // runc: delete --force of an unknown container succeeds.
    assert!(hull(&t.0, &["delete", "--force", "nope"]).status.success());
}

#[test]
fn ids_that_escape_the_root_are_refused_and_nothing_is_made() {
    let t = Tmp::new("badid");
    let bundle = t.0.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).expect("mkdir");
    assert!(
        hull(&t.0, &["spec", "--bundle", bundle.to_str().unwrap_or("")])
            .status
            .success()
    );
    let root = t.0.join("root");
    for id in ["../escape", "a/b", "..", ""] {
        let o = hull(
            &root,
            &["create", "--bundle", bundle.to_str().unwrap_or(""), id],
        );
        assert_eq!(o.status.code(), Some(1), "{id:?}");
        assert!(
            stderr(&o).contains("invalid container id"),
            "{id:?}: {}",
            stderr(&o)
        );
    }
    assert!(!t.0.join("escape").exists());
    assert!(std::fs::read_dir(&root).map_or(true, |mut d| d.next().is_none()));
}

#[test]
fn broken_config_names_the_field_and_leaves_no_state() {
    let t = Tmp::new("badcfg");
    let bundle = t.0.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).expect("mkdir");
    let b = bundle.to_str().unwrap_or("");
    assert!(hull(&t.0, &["spec", "--bundle", b]).status.success());
    let good = std::fs::read_to_string(bundle.join("config.json")).expect("config");
    let root = t.0.join("root");
    let cases = [
        (
            good.replace("\"terminal\": true", "\"terminal\": \"yes\""),
            "process.terminal",
        ),
        (
            good.replace("\"RLIMIT_NOFILE\"", "\"RLIMIT_BOGUS\""),
            "process.rlimits",
        ),
        (
            good.replace("\"CAP_KILL\"", "\"CAP_BOGUS\""),
            "process.capabilities",
        ),
        (
            good.replace("\"path\": \"rootfs\"", "\"path\": \"missing-rootfs\""),
            "root.path",
        ),
        (
            good.replace("\"type\": \"uts\"", "\"type\": \"pid\""),
            "linux.namespaces",
        ),
        ("{ not json".to_string(), "config.json"),
    ];
    for (text, field) in cases {
        std::fs::write(bundle.join("config.json"), &text).expect("write config");
        let o = hull(&root, &["create", "--bundle", b, "bad"]);
        assert_eq!(o.status.code(), Some(1), "{field}");
        assert!(stderr(&o).contains(field), "{field}: {}", stderr(&o));
        assert!(!root.join("bad").exists(), "{field}: state dir left behind");
    }
}

#[test]
fn json_log_holds_the_error_line_containerd_reads() {
    let t = Tmp::new("log");
    let log = t.0.join("log.json");
    let o = Command::new(env!("CARGO_BIN_EXE_hull"))
        .args(["--root", t.0.to_str().unwrap_or(""), "--log"])
        .arg(&log)
        .args(["--log-format=json", "state", "ghost"])
        .output()
        .expect("run hull");
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).expect("log written");
    let last = text.lines().last().expect("a line");
    let v: serde_json::Value = serde_json::from_str(last).expect("json line");
    assert_eq!(v["level"], "error");
    assert!(v["msg"]
        .as_str()
        .is_some_and(|m| m.contains("does not exist")));
    assert!(v["time"].is_string());
}

#[test]
fn single_dash_long_flags_are_accepted_like_runc() {
    let t = Tmp::new("dash");
    let o = hull(&t.0, &["list", "-format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "null");
}

#[test]
fn features_document_lists_namespaces_and_seccomp() {
    let t = Tmp::new("features");
    let o = hull(&t.0, &["features"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let ns = v["linux"]["namespaces"].as_array().expect("namespaces");
    assert!(ns.iter().any(|n| n == "user"));
    assert!(v["linux"]["seccomp"]["actions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == "SCMP_ACT_NOTIFY")));
    assert_eq!(v["ociVersionMax"], "1.2.1");
}
