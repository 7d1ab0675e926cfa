//! End-to-end CNI tests: the plugin binary against namespaces made here.

mod common;

use common::*;
use serde_json::{json, Value};

fn conf(name: &str, bridge: &str, subnet: &str, data: &TempDir, extra: Value) -> Vec<u8> {
    let mut c = json!({
        "cniVersion": "1.1.0",
        "name": name,
        "type": "hull-bridge",
        "bridge": bridge,
        "isGateway": true,
        "isDefaultGateway": true,
        "ipMasq": true,
        "ipam": {"subnet": subnet, "dataDir": data.str()},
    });
    if let (Some(o), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if k == "ipam" {
                for (ik, iv) in v.as_object().into_iter().flatten() {
                    o["ipam"][ik] = iv.clone();
                }
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    c.to_string().into_bytes()
}

fn with_prev(conf: &[u8], prev: &Value) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(conf).expect("conf json");
    v["prevResult"] = prev.clone();
    v.to_string().into_bytes()
}

#[test]
fn add_ping_check_del() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let b = Netns::new("b");
    let data = TempDir::new("data");
    let c = conf("net1", "hb0", "10.231.1.0/24", &data, json!({}));

    let ra = plugin(&host, "ADD", "ctr-a", &a.path(), "eth0", &c, &[]);
    assert!(ra.ok, "ADD a: {}", ra.stdout);
    let rb = plugin(&host, "ADD", "ctr-b", &b.path(), "eth0", &c, &[]);
    assert!(rb.ok, "ADD b: {}", rb.stdout);
    let (ipa, ipb) = (ip_of(&ra.json, 0), ip_of(&rb.json, 0));
    assert_ne!(ipa, ipb);
    assert_eq!(ra.json["cniVersion"], "1.1.0");
    assert_eq!(ra.json["ips"][0]["gateway"], "10.231.1.1");
    assert_eq!(ra.json["interfaces"][2]["sandbox"], a.path());
    assert_eq!(ra.json["routes"][0]["dst"], "0.0.0.0/0");

    assert!(a.ping(&ipb), "a cannot ping b");
    assert!(b.ping(&ipa), "b cannot ping a");
    assert!(a.ping("10.231.1.1"), "a cannot ping the gateway");
    let route =
        String::from_utf8_lossy(&a.exec(&["ip", "route", "show", "default"]).stdout).to_string();
    assert!(route.contains("via 10.231.1.1"), "default route: {route}");

    // CHECK passes, then detects a removed address.
    let cb = with_prev(&c, &rb.json);
    let chk = plugin(&host, "CHECK", "ctr-b", &b.path(), "eth0", &cb, &[]);
    assert!(chk.ok, "CHECK: {}", chk.stdout);
    must(&[
        "ip",
        "-n",
        &b.name,
        "addr",
        "del",
        &format!("{ipb}/24"),
        "dev",
        "eth0",
    ]);
    let chk = plugin(&host, "CHECK", "ctr-b", &b.path(), "eth0", &cb, &[]);
    assert!(!chk.ok, "CHECK passed without the address");
    assert!(
        chk.json["msg"].is_string() && chk.code() > 0,
        "{}",
        chk.stdout
    );

    // DEL removes the veth, the lease and the rules; twice is fine.
    let store = data.path.join("net1");
    assert_eq!(leases(&store).len(), 2);
    assert_eq!(host.links("veth").len(), 2);
    // One masquerade rule serves the network (docker0's way); it stays while
    // the network is in use, and an ADD that finds it adds no other.
    let masq = "masq/net1 10.231.1.0/24".to_string();
    assert_eq!(
        host.nft_comments().iter().filter(|c| **c == masq).count(),
        1,
        "{:?}",
        host.nft_comments()
    );
    for _ in 0..2 {
        let d = plugin(&host, "DEL", "ctr-b", &b.path(), "eth0", &cb, &[]);
        assert!(d.ok, "DEL: {}", d.stdout);
    }
    assert_eq!(host.links("veth").len(), 1);
    assert_eq!(leases(&store), vec![ipa.clone()]);
    assert!(!host.nft_comments().iter().any(|c| c.contains("ctr-b")));
    assert!(host.nft_comments().contains(&masq));
    assert!(b.links("veth").is_empty());
    assert!(a.no_reply(&ipb), "b still answers after DEL");
}

/// Deletes the rules of table inet hull-bridge whose comment is `comment`.
fn delete_rule(host: &Netns, comment: &str) {
    let out = host.exec(&["nft", "-j", "list", "table", "inet", "hull-bridge"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("nft json");
    let mut n = 0;
    for r in v["nftables"].as_array().into_iter().flatten() {
        let r = &r["rule"];
        if r["comment"] == comment {
            let handle = r["handle"].to_string();
            let chain = r["chain"].as_str().unwrap_or_default();
            must(&[
                "ip",
                "netns",
                "exec",
                &host.name,
                "nft",
                "delete",
                "rule",
                "inet",
                "hull-bridge",
                chain,
                "handle",
                &handle,
            ]);
            n += 1;
        }
    }
    assert!(n > 0, "no rule {comment:?}");
}

#[test]
fn check_detects_missing_firewall_rules() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let c = conf(
        "net8",
        "hb0",
        "10.231.8.0/24",
        &data,
        json!({"runtimeConfig": {"portMappings": [{"hostPort": 9008, "containerPort": 80}]}}),
    );
    let r = plugin(&host, "ADD", "ctr", &a.path(), "eth0", &c, &[]);
    assert!(r.ok, "{}", r.stdout);
    let cc = with_prev(&c, &r.json);
    let chk = plugin(&host, "CHECK", "ctr", &a.path(), "eth0", &cc, &[]);
    assert!(chk.ok, "CHECK: {}", chk.stdout);

    delete_rule(&host, "net8:ctr/eth0");
    let chk = plugin(&host, "CHECK", "ctr", &a.path(), "eth0", &cc, &[]);
    assert!(!chk.ok, "CHECK passed without the port-mapping rules");
    assert!(
        chk.json["details"]
            .as_str()
            .unwrap_or_default()
            .contains("port-mapping rules \"net8:ctr/eth0\""),
        "{}",
        chk.stdout
    );

    delete_rule(&host, "masq/net8 10.231.8.0/24");
    let chk = plugin(&host, "CHECK", "ctr", &a.path(), "eth0", &cc, &[]);
    assert!(!chk.ok, "CHECK passed without the masquerade rule");
    assert!(
        chk.json["details"]
            .as_str()
            .unwrap_or_default()
            .contains("masquerade rule \"masq/net8 10.231.8.0/24\""),
        "{}",
        chk.stdout
    );
    // A later ADD on the network puts the masquerade rule back.
    let r2 = plugin(&host, "ADD", "ctr2", &a.path(), "eth1", &c, &[]);
    assert!(r2.ok, "{}", r2.stdout);
    assert!(host
        .nft_comments()
        .contains(&"masq/net8 10.231.8.0/24".to_string()));
    for (id, ifname) in [("ctr", "eth0"), ("ctr2", "eth1")] {
        assert!(plugin(&host, "DEL", id, &a.path(), ifname, &c, &[]).ok);
    }
    assert!(leases(&data.path.join("net8")).is_empty());
}

#[test]
fn check_detects_a_missing_address() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let c = conf("net6", "hb0", "10.231.6.0/24", &data, json!({}));
    let r = plugin(&host, "ADD", "ctr", &a.path(), "eth0", &c, &[]);
    assert!(r.ok, "{}", r.stdout);
    let cc = with_prev(&c, &r.json);
    assert!(plugin(&host, "CHECK", "ctr", &a.path(), "eth0", &cc, &[]).ok);
    let ip = r.json["ips"][0]["address"]
        .as_str()
        .expect("address")
        .to_string();
    must(&["ip", "-n", &a.name, "addr", "del", &ip, "dev", "eth0"]);
    let chk = plugin(&host, "CHECK", "ctr", &a.path(), "eth0", &cc, &[]);
    assert!(!chk.ok, "CHECK passed without {ip} on eth0");
    let details = chk.json["details"].as_str().unwrap_or_default();
    let msg = chk.json["msg"].as_str().unwrap_or_default();
    assert!(
        details.contains(ip.split('/').next().unwrap_or_default()) || msg.contains("address"),
        "{}",
        chk.stdout
    );
    assert!(plugin(&host, "DEL", "ctr", &a.path(), "eth0", &cc, &[]).ok);
    assert!(leases(&data.path.join("net6")).is_empty());
}

#[test]
fn check_detects_removed_veth() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let c = conf("net2", "hb0", "10.231.2.0/24", &data, json!({}));
    let r = plugin(&host, "ADD", "ctr", &a.path(), "eth0", &c, &[]);
    assert!(r.ok, "{}", r.stdout);
    let cc = with_prev(&c, &r.json);
    assert!(plugin(&host, "CHECK", "ctr", &a.path(), "eth0", &cc, &[]).ok);
    let veth = r.json["interfaces"][1]["name"]
        .as_str()
        .expect("veth")
        .to_string();
    must(&["ip", "-n", &host.name, "link", "del", &veth]);
    let chk = plugin(&host, "CHECK", "ctr", &a.path(), "eth0", &cc, &[]);
    assert!(!chk.ok);
    assert!(
        chk.json["details"]
            .as_str()
            .unwrap_or_default()
            .contains("does not exist"),
        "{}",
        chk.stdout
    );
    assert!(plugin(&host, "DEL", "ctr", &a.path(), "eth0", &cc, &[]).ok);
    assert!(leases(&data.path.join("net2")).is_empty());
}

#[test]
fn del_after_netns_is_gone() {
    let host = Netns::new("host");
    let data = TempDir::new("data");
    let c = conf("net3", "hb0", "10.231.3.0/24", &data, json!({}));
    let path;
    // Holds the namespace alive after its name is gone, as the kernel does
    // for a while with a dead container's: the veth stays until DEL.
    let pinned;
    {
        let a = Netns::new("a");
        path = a.path();
        let r = plugin(&host, "ADD", "gone", &path, "eth0", &c, &[]);
        assert!(r.ok, "{}", r.stdout);
        pinned = std::fs::File::open(&path).expect("open the netns");
    }
    assert_eq!(leases(&data.path.join("net3")).len(), 1);
    assert_eq!(host.links("veth").len(), 1, "the host end before DEL");
    for _ in 0..2 {
        let d = plugin(&host, "DEL", "gone", &path, "eth0", &c, &[]);
        assert!(d.ok, "DEL: {}", d.stdout);
        assert!(host.links("veth").is_empty(), "DEL leaves the host end");
    }
    drop(pinned);
    assert!(leases(&data.path.join("net3")).is_empty());
    assert!(!host.nft_comments().iter().any(|c| c.contains("gone")));
    // Without CNI_NETNS at all.
    assert!(plugin(&host, "DEL", "gone", "", "eth0", &c, &[]).ok);
}

#[test]
fn concurrent_adds_get_distinct_addresses() {
    let host = Netns::new("host");
    let data = TempDir::new("data");
    let c = conf("net4", "hb0", "10.231.4.0/24", &data, json!({}));
    let nss: Vec<Netns> = (0..20).map(|i| Netns::new(&format!("c{i}"))).collect();
    let ips: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = nss
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let (host, c) = (&host, &c);
                s.spawn(move || {
                    let r = plugin(host, "ADD", &format!("ctr{i}"), &ns.path(), "eth0", c, &[]);
                    assert!(r.ok, "ADD {i}: {}", r.stdout);
                    ip_of(&r.json, 0)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut uniq = ips.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 20, "duplicate addresses: {ips:?}");
    assert!(nss[0].ping(&ips[19]));
    for (i, ns) in nss.iter().enumerate() {
        assert!(
            plugin(
                &host,
                "DEL",
                &format!("ctr{i}"),
                &ns.path(),
                "eth0",
                &c,
                &[]
            )
            .ok
        );
    }
    assert!(leases(&data.path.join("net4")).is_empty());
    assert!(host.links("veth").is_empty());
}

#[test]
fn bad_input_gives_error_json_and_leaves_nothing() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let run = |conf: &[u8], netns: &str| plugin(&host, "ADD", "bad", netns, "eth0", conf, &[]);

    let r = run(b"{not json", &a.path());
    assert!(!r.ok);
    assert_eq!(r.code(), 6, "{}", r.stdout);

    let mut v: Value =
        serde_json::from_slice(&conf("n", "hb0", "10.231.5.0/24", &data, json!({}))).expect("json");
    v["cniVersion"] = json!("9.9.9");
    let r = run(v.to_string().as_bytes(), &a.path());
    assert_eq!((r.ok, r.code()), (false, 1), "{}", r.stdout);

    let r = run(
        &conf("n", "hb0", "10.231.5.0/31", &data, json!({})),
        &a.path(),
    );
    assert_eq!((r.ok, r.code()), (false, 7), "{}", r.stdout);
    assert!(r.json["details"]
        .as_str()
        .unwrap_or_default()
        .contains("too small"));

    let r = run(
        &conf("n", "hb0", "10.231.5.0/24", &data, json!({})),
        "/var/run/netns/hb-test-does-not-exist",
    );
    assert_eq!((r.ok, r.code()), (false, 3), "{}", r.stdout);

    let r = plugin(
        &host,
        "ADD",
        "",
        &a.path(),
        "eth0",
        &conf("n", "hb0", "10.231.5.0/24", &data, json!({})),
        &[],
    );
    assert_eq!((r.ok, r.code()), (false, 4), "{}", r.stdout);

    let good = conf("n", "hb0", "10.231.5.0/24", &data, json!({}));
    let r = plugin(
        &host,
        "ADD",
        "bad",
        &a.path(),
        "eth0",
        &good,
        &[("CNI_ARGS", "FOO=bar")],
    );
    assert_eq!((r.ok, r.code()), (false, 2), "{}", r.stdout);
    let r = plugin(&host, "ADD", "", &a.path(), "eth0", &good, &[]);
    assert_eq!((r.ok, r.code()), (false, 4), "{}", r.stdout);
    let r = plugin(&host, "ADD", "bad", &a.path(), "eth0/x", &good, &[]);
    assert_eq!((r.ok, r.code()), (false, 4), "{}", r.stdout);
    assert!(host.links("veth").is_empty() && a.links("veth").is_empty());
    assert!(leases(&data.path.join("n")).is_empty());

    // IgnoreUnknown lets unknown keys through; MAC= is honoured.
    let args = [("CNI_ARGS", "IgnoreUnknown=1;FOO=bar;MAC=02:00:0a:e7:05:63")];
    let r = plugin(&host, "ADD", "args", &a.path(), "eth0", &good, &args);
    assert!(r.ok, "{}", r.stdout);
    assert_eq!(r.json["interfaces"][2]["mac"], "02:00:0a:e7:05:63");
    assert!(plugin(&host, "DEL", "args", &a.path(), "eth0", &good, &args).ok);

    // A two-address range: the third ADD fails and leaves nothing behind.
    let small = conf(
        "small",
        "hb0",
        "10.231.5.0/24",
        &data,
        json!({"ipam": {"rangeStart": "10.231.5.10", "rangeEnd": "10.231.5.11"}}),
    );
    let b = Netns::new("b");
    let c3 = Netns::new("c");
    assert!(plugin(&host, "ADD", "s1", &a.path(), "eth0", &small, &[]).ok);
    assert!(plugin(&host, "ADD", "s2", &b.path(), "eth0", &small, &[]).ok);
    let r = plugin(&host, "ADD", "s3", &c3.path(), "eth0", &small, &[]);
    assert_eq!((r.ok, r.code()), (false, 100), "{}", r.stdout);
    assert!(c3.links("veth").is_empty());
    assert_eq!(host.links("veth").len(), 2);
    assert_eq!(leases(&data.path.join("small")).len(), 2);
    assert!(!host.nft_comments().iter().any(|c| c.contains("s3")));
    // After a DEL the freed address is handed out again.
    assert!(plugin(&host, "DEL", "s1", &a.path(), "eth0", &small, &[]).ok);
    let r = plugin(&host, "ADD", "s3", &c3.path(), "eth0", &small, &[]);
    assert!(r.ok, "{}", r.stdout);
    assert_eq!(ip_of(&r.json, 0), "10.231.5.10");
}

#[test]
fn version_status_and_gc() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let b = Netns::new("b");
    let data = TempDir::new("data");
    // A port mapping gives each attachment rules of its own for GC to find.
    let c = conf(
        "net6",
        "hb0",
        "10.231.6.0/24",
        &data,
        json!({"runtimeConfig": {"portMappings": [{"hostPort": 9006, "containerPort": 80}]}}),
    );

    let v = plugin(
        &host,
        "VERSION",
        "",
        "",
        "",
        br#"{"cniVersion":"1.0.0"}"#,
        &[],
    );
    assert!(v.ok);
    assert_eq!(v.json["cniVersion"], "1.0.0");
    assert!(v.json["supportedVersions"]
        .as_array()
        .expect("list")
        .contains(&json!("1.1.0")));

    assert!(plugin(&host, "STATUS", "", "", "", &c, &[]).ok);
    let mut old: Value = serde_json::from_slice(&c).expect("json");
    old["cniVersion"] = json!("0.4.0");
    let s = plugin(&host, "STATUS", "", "", "", old.to_string().as_bytes(), &[]);
    assert_eq!((s.ok, s.code()), (false, 1));

    assert!(plugin(&host, "ADD", "keep", &a.path(), "eth0", &c, &[]).ok);
    assert!(plugin(&host, "ADD", "stale", &b.path(), "eth0", &c, &[]).ok);
    let mut gc: Value = serde_json::from_slice(&c).expect("json");
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    assert!(plugin(&host, "GC", "", "", "", gc.to_string().as_bytes(), &[]).ok);
    assert_eq!(leases(&data.path.join("net6")).len(), 1);
    let comments = host.nft_comments();
    assert!(comments.iter().any(|c| c.contains("keep")));
    assert!(!comments.iter().any(|c| c.contains("stale")));
    assert_eq!(
        host.links("veth").len(),
        1,
        "GC removes the stale veth only"
    );
    assert_eq!(a.links("veth"), ["eth0"]);
}

#[test]
fn old_versions_print_old_results() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let mut v: Value =
        serde_json::from_slice(&conf("net7", "hb0", "10.231.7.0/24", &data, json!({})))
            .expect("json");
    v["cniVersion"] = json!("0.4.0");
    let c = v.to_string().into_bytes();
    let r = plugin(&host, "ADD", "old", &a.path(), "eth0", &c, &[]);
    assert!(r.ok, "{}", r.stdout);
    assert_eq!(r.json["cniVersion"], "0.4.0");
    assert_eq!(r.json["ips"][0]["version"], "4");
    v["cniVersion"] = json!("0.3.1");
    let chk = plugin(
        &host,
        "CHECK",
        "old",
        &a.path(),
        "eth0",
        v.to_string().as_bytes(),
        &[],
    );
    assert_eq!((chk.ok, chk.code()), (false, 1));
    assert!(plugin(&host, "DEL", "old", &a.path(), "eth0", &c, &[]).ok);
}

#[test]
fn add_extends_a_prev_result() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    let c = conf("net8", "hb0", "10.231.8.0/24", &data, json!({}));
    let prev = json!({
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": a.path()}],
        "ips": [{"address": "127.0.0.1/8", "interface": 0}],
    });
    let r = plugin(
        &host,
        "ADD",
        "p",
        &a.path(),
        "eth0",
        &with_prev(&c, &prev),
        &[],
    );
    assert!(r.ok, "{}", r.stdout);
    assert_eq!(r.json["interfaces"][0]["name"], "lo");
    assert_eq!(r.json["interfaces"][3]["name"], "eth0");
    assert_eq!(r.json["ips"][0]["address"], "127.0.0.1/8");
    assert_eq!(r.json["ips"][1]["interface"], 3);
    let chk = plugin(
        &host,
        "CHECK",
        "p",
        &a.path(),
        "eth0",
        &with_prev(&c, &r.json),
        &[],
    );
    assert!(chk.ok, "CHECK of a chained result: {}", chk.stdout);
    assert!(plugin(&host, "DEL", "p", &a.path(), "eth0", &c, &[]).ok);
}
