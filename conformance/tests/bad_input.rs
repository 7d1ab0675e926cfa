//! Bad input: a clear error naming what is wrong, a non-zero exit, and
//! nothing left behind (no state directory, no mount, no process).

use hull_conformance::*;
use serde_json::json;

#[test]
fn bad_config_wrong_type_names_the_field() {
    let w = World::new("bad-type");
    let mut b = w.bundle("b", &["true"]);
    b.config["process"]["user"]["uid"] = json!("root");
    b.save();
    assert_create_fails_cleanly(&w, &b, "process.user.uid");
}

#[test]
fn bad_config_missing_rootfs_names_the_path() {
    let w = World::new("bad-rootfs");
    let mut b = w.bundle("b", &["true"]);
    b.config["root"]["path"] = json!("no-such-rootfs");
    b.save();
    assert_create_fails_cleanly(&w, &b, "no-such-rootfs");
}

// runc 1.1.5 only warns about unknown capabilities; runtime-tools'
// process_capabilities_fail expects an error, as hull gives.
#[test]
fn bad_config_unknown_capability_is_named() {
    let w = World::new("bad-cap");
    let mut b = w.bundle("b", &["true"]);
    b.config["process"]["capabilities"]["bounding"] = json!(["CAP_NOT_A_THING"]);
    b.save();
    assert_create_fails_cleanly(&w, &b, "CAP_NOT_A_THING");
}

#[test]
fn bad_config_program_that_does_not_exist_fails_at_create() {
    let w = World::new("bad-prog");
    let b = w.bundle("b", &["/no/such/program"]);
    b.save();
    assert_create_fails_cleanly(&w, &b, "/no/such/program");
}

#[test]
fn bad_config_program_that_is_not_executable_fails_at_create() {
    let w = World::new("bad-prog-x");
    let b = w.bundle("b", &["/etc/passwd"]);
    b.save();
    assert_create_fails_cleanly(&w, &b, "permission denied");
}

#[test]
fn bad_config_mount_of_unknown_fs_type_fails_cleanly() {
    let w = World::new("bad-mount");
    let mut b = w.bundle("b", &["true"]);
    b.config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(json!({ "destination": "/x", "type": "nosuchfs", "source": "none" }));
    b.save();
    assert_create_fails_cleanly(&w, &b, "/x");
}

// runc 1.1.5 fails this test: its message is only the JSON decoder's
// ("invalid character 'n' looking for beginning of object key string") and
// does not say which file; exit status and cleanup are as expected.
#[test]
fn bad_config_not_json_fails_cleanly() {
    let w = World::new("bad-json");
    let b = w.bundle("b", &["true"]);
    std::fs::write(b.dir.join("config.json"), "{ not json").expect("write");
    assert_create_fails_cleanly(&w, &b, "config.json");
}
