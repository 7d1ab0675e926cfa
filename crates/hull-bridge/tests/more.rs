//! Delegated IPAM, IPv6, link options, OCI hook mode and a leak check.

mod common;

use common::*;
use serde_json::{json, Value};

fn base(name: &str, bridge: &str, ipam: Value) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": name,
        "type": "hull-bridge",
        "bridge": bridge,
        "isGateway": true,
        "isDefaultGateway": true,
        "ipam": ipam,
    })
}

#[test]
fn delegates_to_reference_host_local() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let c = base(
        "hl",
        "hb0",
        json!({"type": "host-local", "subnet": "10.231.20.0/24", "dataDir": data.str()}),
    )
    .to_string();
    let r = plugin(&host, "ADD", "hl1", &a.path(), "eth0", c.as_bytes(), &[]);
    assert!(r.ok, "{}", r.stdout);
    assert!(a.ping("10.231.20.1"));
    let store = data.path.join("hl");
    let ip = ip_of(&r.json, 0);
    let lease = std::fs::read_to_string(store.join(&ip)).expect("host-local lease");
    assert_eq!(lease, "hl1\r\neth0");
    let mut prev: Value = serde_json::from_str(&c).expect("json");
    prev["prevResult"] = r.json.clone();
    assert!(
        plugin(
            &host,
            "CHECK",
            "hl1",
            &a.path(),
            "eth0",
            prev.to_string().as_bytes(),
            &[]
        )
        .ok
    );
    assert!(plugin(&host, "DEL", "hl1", &a.path(), "eth0", c.as_bytes(), &[]).ok);
    assert!(leases(&store).is_empty());

    // A missing IPAM plugin is a config error and leaves nothing.
    let bad = base("hl", "hb0", json!({"type": "no-such-ipam"})).to_string();
    let r = plugin(&host, "ADD", "hl2", &a.path(), "eth0", bad.as_bytes(), &[]);
    assert_eq!((r.ok, r.code()), (false, 7), "{}", r.stdout);
    assert!(host.links("veth").is_empty());
}

#[test]
fn builtin_store_is_host_local_compatible() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let b = Netns::new("b");
    let data = TempDir::new("data");
    let ours = base(
        "compat",
        "hb0",
        json!({"subnet": "10.231.21.0/24", "dataDir": data.str()}),
    )
    .to_string();
    let theirs = base(
        "compat",
        "hb0",
        json!({"type": "host-local", "subnet": "10.231.21.0/24", "dataDir": data.str()}),
    )
    .to_string();
    let r1 = plugin(&host, "ADD", "x1", &a.path(), "eth0", ours.as_bytes(), &[]);
    assert!(r1.ok, "{}", r1.stdout);
    // host-local sees our lease and our last_reserved_ip, and picks the next.
    let r2 = plugin(
        &host,
        "ADD",
        "x2",
        &b.path(),
        "eth0",
        theirs.as_bytes(),
        &[],
    );
    assert!(r2.ok, "{}", r2.stdout);
    assert_eq!(ip_of(&r1.json, 0), "10.231.21.2");
    assert_eq!(ip_of(&r2.json, 0), "10.231.21.3");
    let store = data.path.join("compat");
    assert_eq!(
        std::fs::read_to_string(store.join("10.231.21.2")).expect("lease"),
        "x1\r\neth0"
    );
    assert_eq!(
        std::fs::read_to_string(store.join("last_reserved_ip.0"))
            .expect("last")
            .trim(),
        "10.231.21.3"
    );
    assert!(plugin(&host, "DEL", "x2", &b.path(), "eth0", ours.as_bytes(), &[]).ok);
    assert!(
        plugin(
            &host,
            "DEL",
            "x1",
            &a.path(),
            "eth0",
            theirs.as_bytes(),
            &[]
        )
        .ok
    );
    assert!(leases(&store).is_empty());
}

#[test]
fn dual_stack() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let b = Netns::new("b");
    let data = TempDir::new("data");
    let c = base(
        "ds",
        "hb0",
        json!({"dataDir": data.str(), "ranges": [
            [{"subnet": "10.231.22.0/24"}],
            [{"subnet": "fd00:231:22::/64"}]
        ]}),
    )
    .to_string();
    let ra = plugin(&host, "ADD", "a", &a.path(), "eth0", c.as_bytes(), &[]);
    let rb = plugin(&host, "ADD", "b", &b.path(), "eth0", c.as_bytes(), &[]);
    assert!(ra.ok && rb.ok, "{} {}", ra.stdout, rb.stdout);
    assert_eq!(rb.json["ips"].as_array().map(Vec::len), Some(2));
    let v6b = ip_of(&rb.json, 1);
    assert!(v6b.starts_with("fd00:231:22::"), "{v6b}");
    assert!(a.ping(&ip_of(&rb.json, 0)));
    assert!(a.ping(&v6b), "IPv6 ping a -> b");
    assert!(a.ping("fd00:231:22::1"), "IPv6 ping to the gateway");
    let routes = String::from_utf8_lossy(&a.exec(&["ip", "-6", "route", "show", "default"]).stdout)
        .to_string();
    assert!(routes.contains("via fd00:231:22::1"), "{routes}");
    assert!(plugin(&host, "DEL", "a", &a.path(), "eth0", c.as_bytes(), &[]).ok);
    assert!(plugin(&host, "DEL", "b", &b.path(), "eth0", c.as_bytes(), &[]).ok);
    assert!(leases(&data.path.join("ds")).is_empty());
}

#[test]
fn link_options_are_applied() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let mut c = base(
        "opts",
        "hb0",
        json!({"subnet": "10.231.23.0/24", "dataDir": data.str()}),
    );
    c["mtu"] = json!(1400);
    c["hairpinMode"] = json!(true);
    c["promiscMode"] = json!(true);
    c["runtimeConfig"] = json!({"mac": "02:42:0a:e7:17:09"});
    let r = plugin(
        &host,
        "ADD",
        "o",
        &a.path(),
        "net1",
        c.to_string().as_bytes(),
        &[],
    );
    assert!(r.ok, "{}", r.stdout);
    assert_eq!(r.json["interfaces"][2]["name"], "net1");
    assert_eq!(r.json["interfaces"][2]["mac"], "02:42:0a:e7:17:09");
    let inner: Value = serde_json::from_str(&must(&[
        "ip", "-n", &a.name, "-j", "-d", "link", "show", "net1",
    ]))
    .expect("json");
    assert_eq!(inner[0]["mtu"], 1400);
    assert_eq!(inner[0]["address"], "02:42:0a:e7:17:09");
    let veth = r.json["interfaces"][1]["name"]
        .as_str()
        .expect("veth")
        .to_string();
    let port: Value = serde_json::from_str(&must(&[
        "ip", "-n", &host.name, "-j", "-d", "link", "show", &veth,
    ]))
    .expect("json");
    assert_eq!(port[0]["mtu"], 1400);
    assert_eq!(port[0]["master"], "hb0");
    assert_eq!(
        port[0]["linkinfo"]["info_slave_data"]["hairpin"], true,
        "{port}"
    );
    let br: Value = serde_json::from_str(&must(&[
        "ip", "-n", &host.name, "-j", "-d", "link", "show", "hb0",
    ]))
    .expect("json");
    assert_eq!(br[0]["mtu"], 1400);
    assert!(br[0]["promiscuity"].as_u64().unwrap_or(0) > 0, "{br}");

    // A bridge address in the same subnet is refused unless forceAddress.
    let d = TempDir::new("data");
    let mut other = base(
        "opts2",
        "hb1",
        json!({"subnet": "10.231.24.0/24", "dataDir": d.str()}),
    );
    must(&[
        "ip", "-n", &host.name, "link", "add", "hb1", "type", "bridge",
    ]);
    must(&[
        "ip",
        "-n",
        &host.name,
        "addr",
        "add",
        "10.231.24.254/24",
        "dev",
        "hb1",
    ]);
    let b = Netns::new("b");
    let r = plugin(
        &host,
        "ADD",
        "f",
        &b.path(),
        "eth0",
        other.to_string().as_bytes(),
        &[],
    );
    assert_eq!((r.ok, r.code()), (false, 7), "{}", r.stdout);
    assert!(leases(&d.path.join("opts2")).is_empty());
    other["forceAddress"] = json!(true);
    let r = plugin(
        &host,
        "ADD",
        "f",
        &b.path(),
        "eth0",
        other.to_string().as_bytes(),
        &[],
    );
    assert!(r.ok, "{}", r.stdout);
    let addrs = must(&["ip", "-n", &host.name, "addr", "show", "hb1"]);
    assert!(
        addrs.contains("10.231.24.1/24") && !addrs.contains("10.231.24.254"),
        "{addrs}"
    );
}

#[test]
fn oci_hook_mode() {
    let host = Netns::new("host");
    let ctr = Netns::new("ctr");
    let data = TempDir::new("data");
    let conf_path = data.path.join("net.conflist");
    let list = json!({
        "cniVersion": "1.1.0",
        "name": "hooknet",
        "plugins": [{
            "type": "hull-bridge", "bridge": "hb0", "isGateway": true, "isDefaultGateway": true,
            "ipam": {"type": "host-local", "subnet": "10.231.25.0/24", "dataDir": data.str()}
        }]
    });
    std::fs::write(&conf_path, list.to_string()).expect("write conf");
    // The "container": a process living in the namespace.
    let sleeper = Child::spawn(&["ip", "netns", "exec", &ctr.name, "sleep", "30"]);
    let pid = sleeper.0.id();
    // ip netns exec execs sleep in place; wait until it sits in the netns.
    let mut ready = false;
    for _ in 0..50 {
        let ns = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .ok()
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.ino()
            });
        let target = std::fs::metadata(ctr.path()).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ino()
        });
        if ns.is_some() && ns == target {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ready, "sleeper never entered the namespace");
    let state = json!({"ociVersion": "1.2.0", "id": "hooked", "status": "created", "pid": pid, "bundle": "/x"});
    // Hooks run with a bare environment: no CNI_* variables, CNI_PATH only.
    let run = |verb: &str| {
        let mut child = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &host.name,
                env!("CARGO_BIN_EXE_hull-bridge"),
                "hook",
                verb,
                "--config",
            ])
            .arg(&conf_path)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_PATH", "/usr/lib/cni")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn hook");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(state.to_string().as_bytes())
            .expect("state");
        child.wait_with_output().expect("hook")
    };
    let out = run("add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        ctr.ping("10.231.25.1"),
        "hooked container cannot reach the gateway"
    );
    assert_eq!(leases(&data.path.join("hooknet")).len(), 1);
    drop(sleeper);
    let out = run("del");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(leases(&data.path.join("hooknet")).is_empty());
}

#[test]
fn add_del_cycles_do_not_leak() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let mut c = base(
        "leak",
        "hb0",
        json!({"subnet": "10.231.26.0/28", "dataDir": data.str()}),
    );
    c["ipMasq"] = json!(true);
    c["runtimeConfig"] = json!({"portMappings": [{"hostPort": 9000, "containerPort": 80}]});
    let c = c.to_string();
    let start = std::time::Instant::now();
    // The small /28 would be exhausted after 13 cycles if a lease leaked.
    for cycles in 0..200 {
        let id = format!("leak{cycles}");
        let r = plugin(&host, "ADD", &id, &a.path(), "eth0", c.as_bytes(), &[]);
        assert!(r.ok, "ADD {cycles}: {}", r.stdout);
        let d = plugin(&host, "DEL", &id, &a.path(), "eth0", c.as_bytes(), &[]);
        assert!(d.ok, "DEL {cycles}: {}", d.stdout);
    }
    eprintln!("200 ADD/DEL cycles in {:?}", start.elapsed());
    assert!(leases(&data.path.join("leak")).is_empty());
    assert!(host.links("veth").is_empty());
    assert!(a.links("veth").is_empty());
    // What stays is the bridge's: its isolation rule and the network's one
    // masquerade rule, until a GC finds no attachment left.
    let mut comments = host.nft_comments();
    comments.sort();
    assert_eq!(comments, ["bridge:hb0", "masq/leak 10.231.26.0/28"]);
    let mut gc: Value = serde_json::from_str(&c).expect("json");
    gc["cniVersion"] = json!("1.1.0");
    gc["cni.dev/valid-attachments"] = json!([]);
    let r = plugin(&host, "GC", "", "", "", gc.to_string().as_bytes(), &[]);
    assert!(r.ok, "GC: {}", r.stdout);
    assert_eq!(host.nft_comments(), vec!["bridge:hb0".to_string()]);
}

#[test]
fn vlan_separates_ports_of_one_bridge() {
    let host = Netns::new("host");
    let (a, b, c) = (Netns::new("a"), Netns::new("b"), Netns::new("c"));
    let data = TempDir::new("data");
    let conf = |vlan: u16, gw: bool| {
        let mut v = base(
            "vl",
            "hb0",
            json!({"subnet": "10.231.27.0/24", "dataDir": data.str()}),
        );
        v["vlan"] = json!(vlan);
        v["isGateway"] = json!(gw);
        v["isDefaultGateway"] = json!(gw);
        v.to_string()
    };
    let probe = host.exec(&[
        "sh",
        "-c",
        "ip link add hbprobe type bridge && ip link set hbprobe type bridge vlan_filtering 1",
    ]);
    if !probe.status.success() {
        // No CONFIG_BRIDGE_VLAN_FILTERING: a clean, named refusal.
        let r = plugin(
            &host,
            "ADD",
            "a",
            &a.path(),
            "eth0",
            conf(10, true).as_bytes(),
            &[],
        );
        assert_eq!((r.ok, r.code()), (false, 2), "{}", r.stdout);
        assert!(r.json["details"]
            .as_str()
            .unwrap_or_default()
            .contains("VLAN filtering"));
        assert!(host.links("veth").is_empty() && a.links("veth").is_empty());
        assert!(leases(&data.path.join("vl")).is_empty());
        assert!(host.nft_comments().is_empty());
        eprintln!("kernel without bridge VLAN filtering: checked the refusal only");
        return;
    }
    let ra = plugin(
        &host,
        "ADD",
        "a",
        &a.path(),
        "eth0",
        conf(10, true).as_bytes(),
        &[],
    );
    let rb = plugin(
        &host,
        "ADD",
        "b",
        &b.path(),
        "eth0",
        conf(10, true).as_bytes(),
        &[],
    );
    let rc = plugin(
        &host,
        "ADD",
        "c",
        &c.path(),
        "eth0",
        conf(20, false).as_bytes(),
        &[],
    );
    assert!(
        ra.ok && rb.ok && rc.ok,
        "{} {} {}",
        ra.stdout,
        rb.stdout,
        rc.stdout
    );
    assert!(a.ping(&ip_of(&rb.json, 0)), "same vlan must switch");
    assert!(a.ping("10.231.27.1"), "the gateway serves vlan 10");
    assert!(a.no_reply(&ip_of(&rc.json, 0)), "vlan 10 reached vlan 20");
    let veth = rc.json["interfaces"][1]["name"]
        .as_str()
        .expect("veth")
        .to_string();
    let vlans = must(&[
        "bridge", "-n", &host.name, "-j", "vlan", "show", "dev", &veth,
    ]);
    assert!(
        vlans.contains("\"vlan\":20") && !vlans.contains("\"vlan\":1,"),
        "{vlans}"
    );
}
