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
    ] {
        let o = hull(&t.0, cmd);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert!(
            stderr(&o).contains("does not exist"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    // exec's failures are runc's "exec failed" class: 255.
    let o = hull(&t.0, &["exec", "nope", "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        stderr(&o).contains("exec failed: container does not exist"),
        "{}",
        stderr(&o)
    );
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
            stderr(&o).contains("invalid container ID format"),
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

fn hull_raw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hull"))
        .args(args)
        .output()
        .expect("run hull")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const COMMANDS: &[&str] = &[
    "checkpoint",
    "create",
    "delete",
    "events",
    "exec",
    "kill",
    "list",
    "pause",
    "ps",
    "restore",
    "resume",
    "run",
    "spec",
    "start",
    "state",
    "update",
    "features",
];

#[test]
fn help_on_the_root_and_every_command_has_runcs_layout() {
    for flag in ["-h", "--help", "-help"] {
        let o = hull_raw(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}");
        let text = stdout(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME:");
        assert_eq!(lines[1], "   hull - Open Container Initiative runtime");
        for section in ["USAGE:", "VERSION:", "COMMANDS:", "GLOBAL OPTIONS:"] {
            assert!(lines.contains(&section), "{section} in {text}");
        }
        for c in COMMANDS {
            assert!(
                lines.iter().any(|l| l.starts_with(&format!("   {c} "))),
                "{c} listed"
            );
        }
    }
    for c in COMMANDS {
        for flag in ["-h", "--help"] {
            let o = hull_raw(&[c, flag]);
            assert_eq!(o.status.code(), Some(0), "{c} {flag}: {}", stderr(&o));
            let text = stdout(&o);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], "NAME:", "{c}");
            assert!(
                lines[1].starts_with(&format!("   hull {c} - ")),
                "{c}: {}",
                lines[1]
            );
            assert_eq!(lines[3], "USAGE:", "{c}");
        }
    }
    // A flag after the arguments counts too (runc moves flags first), and
    // `help CMD` is the same page.
    assert_eq!(
        stdout(&hull_raw(&["create", "x", "-h"])),
        stdout(&hull_raw(&["help", "create"]))
    );
    // Options are aligned in one column, as Go's tabwriter aligns them.
    let text = stdout(&hull_raw(&["list", "-h"]));
    assert!(
        text.contains(
            "\n   --format value, -f value  select one of: table or json (default: \"table\")\n"
        ),
        "{text}"
    );
    assert!(text.contains("\n   --quiet, -q               "), "{text}");
}

#[test]
fn an_unknown_command_has_no_help_topic_and_exits_3() {
    for args in [&["foo", "-h"][..], &["foo"], &["help", "foo"]] {
        let o = hull_raw(args);
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        assert!(
            stderr(&o).contains(r#"level=error msg="No help topic for 'foo'\n""#),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn version_is_printed_wherever_runc_prints_it() {
    let t = Tmp::new("version");
    let root = t.0.to_str().unwrap_or("");
    for args in [
        &["-v"][..],
        &["--version"],
        &["-version"],
        &["--root", root, "-v"],
        &["-v", "--root", root],
        &["--debug", "--version"],
        &["-v", "list"],
    ] {
        let o = hull_raw(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let text = stdout(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("hull version "), "{args:?}: {text}");
        assert!(lines[1].starts_with("commit: "), "{text}");
        assert!(lines[2].starts_with("spec: "), "{text}");
    }
    // After the command it is a flag the command does not have.
    let o = hull(&t.0, &["list", "-v"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("Incorrect Usage: flag provided but not defined: -v\n\nNAME:"));
    assert!(stderr(&o).contains(r#"level=error msg="flag provided but not defined: -v""#));
    // `=false` turns a boolean flag off, as Go's flags do.
    let o = hull_raw(&["--version=false", "--root", root, "list", "--quiet=false"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ID "), "{}", stdout(&o));
}

#[test]
fn errors_reach_stderr_as_runcs_log_lines() {
    let t = Tmp::new("errfmt");
    let root = t.0.to_str().unwrap_or("");
    // Text: time="…" level=error msg="…".
    let o = hull(&t.0, &["state", "ghost"]);
    let err = stderr(&o);
    assert!(err.starts_with("time=\""), "{err}");
    assert!(
        err.ends_with("Z\" level=error msg=\"container does not exist\"\n"),
        "{err}"
    );
    // JSON on stderr without --log.
    let o = hull_raw(&["--root", root, "--log-format", "json", "state", "ghost"]);
    let v: serde_json::Value = serde_json::from_str(stderr(&o).trim()).expect("one JSON line");
    assert_eq!(v["level"], "error");
    assert_eq!(v["msg"], "container does not exist");
    // With --log: the line goes to the log, the bare message to stderr.
    let log = t.0.join("log.txt");
    let o = Command::new(env!("CARGO_BIN_EXE_hull"))
        .args(["--root", root, "--log"])
        .arg(&log)
        .args(["state", "ghost"])
        .output()
        .expect("run hull");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "container does not exist\n");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains(" level=error msg=\"container does not exist\"\n"),
        "{text}"
    );
}

#[test]
fn a_log_file_that_cannot_be_opened_fails_the_command() {
    let t = Tmp::new("badlog");
    let o = hull_raw(&[
        "--root",
        t.0.to_str().unwrap_or(""),
        "--log",
        "/nonexistent-dir/x/log",
        "list",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(r#"msg="open /nonexistent-dir/x/log: no such file or directory""#),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn an_unknown_log_format_fails_the_command() {
    let o = hull_raw(&["--log-format", "xml", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(r#"msg="invalid log-format: xml""#),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_wrong_argument_count_is_incorrect_usage() {
    let t = Tmp::new("arity");
    for (args, want) in [
        (
            &["state"][..],
            r#"\"state\" requires exactly 1 argument(s)"#,
        ),
        (
            &["state", "a", "b"],
            r#"\"state\" requires exactly 1 argument(s)"#,
        ),
        (&["kill"], r#"\"kill\" requires a minimum of 1 argument(s)"#),
        (
            &["kill", "a", "9", "x"],
            r#"\"kill\" requires a maximum of 2 argument(s)"#,
        ),
        (&["list", "x"], r#"\"list\" requires exactly 0 argument(s)"#),
    ] {
        let o = hull(&t.0, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stdout(&o).starts_with("Incorrect Usage.\n\nNAME:"),
            "{args:?}"
        );
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn values_runc_accepts_are_accepted() {
    let t = Tmp::new("values");
    // Each parses, and fails only on the missing container.
    for args in [
        &["update", "--memory-swap", "-1", "--memory", "-1", "nope"][..],
        &[
            "update",
            "--pids-limit",
            "-1",
            "--cpu-burst",
            "1000",
            "--cpu-idle",
            "1",
            "nope",
        ],
        &[
            "update",
            "--cpu-quota=-1",
            "--memory-reservation",
            "64m",
            "nope",
        ],
        &[
            "update",
            "--l3-cache-schema",
            "L3:0=f",
            "--mem-bw-schema",
            "MB:0=70",
            "nope",
        ],
        &["update", "-r", "-", "nope"],
        &["kill", "nope", "0"],
        &["kill", "-a", "nope", "0"],
        &["kill", "--all", "nope", "SIGKILL"],
        &["start", "nope"],
        &["events", "--interval", "100ms", "nope"],
        &["events", "--stats", "nope"],
    ] {
        let o = hull(&t.0, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("container does not exist"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    for args in [
        &["exec", "--pidfd-socket", "/x.sock", "nope", "true"][..],
        &[
            "exec", "-e", "A=1", "-u", "0:0", "-g", "5", "--cap", "CAP_KILL", "nope", "ls", "-la",
        ],
    ] {
        let o = hull(&t.0, args);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("container does not exist"), "{args:?}");
    }
    // run/create take --pidfd-socket; here they fail on the bundle.
    for cmd in ["run", "create"] {
        let o = hull(
            &t.0,
            &[
                cmd,
                "--pidfd-socket",
                "/x.sock",
                "--bundle",
                "/nonexistent-bundle",
                "c",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert!(
            stderr(&o).contains(&format!("hull {cmd} failed: ")),
            "{cmd}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn kill_reports_an_unknown_container_before_a_bad_signal() {
    let t = Tmp::new("signal");
    // The container is looked up first, as runc does.
    let o = hull(&t.0, &["kill", "nope", "NOSUCH"]);
    assert!(
        stderr(&o).contains("container does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn root_slash_is_refused() {
    let o = hull_raw(&["--root", "/", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Option --root argument should not be set to /"));
}

#[test]
fn list_with_no_container_prints_runcs_header_or_null() {
    let t = Tmp::new("list");
    let o = hull(&t.0, &["list"]);
    assert_eq!(
        stdout(&o),
        "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    );
    let o = hull(&t.0, &["list", "--format=json"]);
    assert_eq!(stdout(&o), "null\n");
    let o = hull(&t.0, &["list", "-f", "yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid format option"));
}
