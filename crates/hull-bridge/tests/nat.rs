//! Port mappings, masquerade and isolation between bridges, all inside a
//! private host namespace.

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
            o.insert(k.clone(), v.clone());
        }
    }
    c.to_string().into_bytes()
}

/// Connects with busybox nc and returns what the server said.
fn fetch(ns: &Netns, addr: &str, port: u16) -> Option<String> {
    let out = ns.exec(&["busybox", "nc", "-w", "2", addr, &port.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// `fetch` with a few attempts: the test server restarts nc between
/// connections, so one attempt can land in that gap.
fn fetch_retry(ns: &Netns, addr: &str, port: u16) -> Option<String> {
    for _ in 0..5 {
        if let Some(body) = fetch(ns, addr, port) {
            return Some(body);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    None
}

#[test]
fn port_mapping_reaches_the_container() {
    let host = Netns::new("host");
    let server = Netns::new("srv");
    let client = Netns::new("cli");
    let data = TempDir::new("data");

    let mapped = conf(
        "pm",
        "hb0",
        "10.231.10.0/24",
        &data,
        json!({"runtimeConfig": {"portMappings": [
            {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
            {"hostPort": 8082, "containerPort": 80, "hostIP": "10.231.10.1"},
            {"hostPort": 8083, "containerPort": 80, "hostIP": "10.231.10.99"}
        ]}}),
    );
    let plain = conf("pm", "hb0", "10.231.10.0/24", &data, json!({}));
    let rs = plugin(&host, "ADD", "srv", &server.path(), "eth0", &mapped, &[]);
    assert!(rs.ok, "{}", rs.stdout);
    let rc = plugin(&host, "ADD", "cli", &client.path(), "eth0", &plain, &[]);
    assert!(rc.ok, "{}", rc.stdout);

    // A tiny server answering every connection on port 80.
    let _server = Child::spawn(&[
        "ip",
        "netns",
        "exec",
        &server.name,
        "timeout",
        "30",
        "sh",
        "-c",
        "while true; do busybox nc -l -p 80 -e /bin/echo hull-bridge-portmap-ok; done",
    ]);
    // Wait for the server to listen (directly, on the container address).
    let direct = ip_of(&rs.json, 0);
    let mut up = false;
    for _ in 0..50 {
        if fetch(&client, &direct, 80).is_some() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "the server did not come up");
    // Through the host: the gateway address, mapped port.
    let body = fetch_retry(&client, "10.231.10.1", 8080);
    assert_eq!(body.as_deref(), Some("hull-bridge-portmap-ok\n"));
    // A port that is not mapped is not answered.
    assert!(fetch(&client, "10.231.10.1", 8081).is_none());
    // hostIP: only that destination address is mapped.
    assert_eq!(
        fetch_retry(&client, "10.231.10.1", 8082).as_deref(),
        Some("hull-bridge-portmap-ok\n")
    );
    assert!(fetch(&client, "10.231.10.1", 8083).is_none());
    // From the host itself (the nat output chain).
    assert_eq!(
        fetch_retry(&host, "10.231.10.1", 8080).as_deref(),
        Some("hull-bridge-portmap-ok\n")
    );

    // After DEL the mapping is gone.
    assert!(plugin(&host, "DEL", "srv", &server.path(), "eth0", &mapped, &[]).ok);
    assert!(!host.nft_comments().iter().any(|c| c.contains(":srv/")));
    assert!(fetch(&client, "10.231.10.1", 8080).is_none());
}

#[test]
fn bridges_are_isolated() {
    let host = Netns::new("host");
    let a = Netns::new("a");
    let a2 = Netns::new("a2");
    let b = Netns::new("b");
    let data = TempDir::new("data");
    let ca = conf("neta", "hb-a", "10.231.11.0/24", &data, json!({}));
    let cb = conf("netb", "hb-b", "10.231.12.0/24", &data, json!({}));
    let ra = plugin(&host, "ADD", "a", &a.path(), "eth0", &ca, &[]);
    let ra2 = plugin(&host, "ADD", "a2", &a2.path(), "eth0", &ca, &[]);
    let rb = plugin(&host, "ADD", "b", &b.path(), "eth0", &cb, &[]);
    assert!(
        ra.ok && ra2.ok && rb.ok,
        "{} {} {}",
        ra.stdout,
        ra2.stdout,
        rb.stdout
    );
    let ipb = ip_of(&rb.json, 0);
    assert!(a.ping(&ip_of(&ra2.json, 0)), "same bridge must work");
    assert!(a.no_reply(&ipb), "a reached b across bridges");
    assert!(
        b.no_reply(&ip_of(&ra.json, 0)),
        "b reached a across bridges"
    );

    // The rule is what blocks it: without isolation the hosts route between
    // the bridges.
    let open = conf(
        "netc",
        "hb-c",
        "10.231.13.0/24",
        &data,
        json!({"isolateBridges": false}),
    );
    let c = Netns::new("c");
    let rc = plugin(&host, "ADD", "c", &c.path(), "eth0", &open, &[]);
    assert!(rc.ok, "{}", rc.stdout);
    assert!(c.ping("10.231.13.1"));
    let comments = host.nft_comments();
    assert!(comments.iter().any(|c| c == "bridge:hb-a"));
    assert!(!comments.iter().any(|c| c == "bridge:hb-c"));
    // hb-a's rule drops a -> c too, since hb-c is one of our bridges.
    assert!(a.no_reply(&ip_of(&rc.json, 0)));
    must(&[
        "ip",
        "netns",
        "exec",
        &host.name,
        "nft",
        "flush",
        "chain",
        "inet",
        "hull-bridge",
        "forward",
    ]);
    assert!(
        a.ping(&ipb),
        "without the rule the bridges must be routable"
    );
}

#[test]
fn masquerade_hides_container_addresses() {
    let host = Netns::new("host");
    let outside = Netns::new("out");
    let a = Netns::new("a");
    let data = TempDir::new("data");
    // An "uplink" veth between the host namespace and an outside namespace.
    let up = unique("u");
    let up_host = format!("hbu{}", &up[up.len().saturating_sub(8)..]).replace('-', "");
    must(&[
        "ip",
        "-n",
        &host.name,
        "link",
        "add",
        &up_host,
        "type",
        "veth",
        "peer",
        "name",
        "up0",
        "netns",
        &outside.name,
    ]);
    must(&[
        "ip",
        "-n",
        &host.name,
        "addr",
        "add",
        "10.231.99.1/24",
        "dev",
        &up_host,
    ]);
    must(&["ip", "-n", &host.name, "link", "set", &up_host, "up"]);
    must(&[
        "ip",
        "-n",
        &outside.name,
        "addr",
        "add",
        "10.231.99.2/24",
        "dev",
        "up0",
    ]);
    must(&["ip", "-n", &outside.name, "link", "set", "up0", "up"]);

    let c = conf("masq", "hb0", "10.231.14.0/24", &data, json!({}));
    let r = plugin(&host, "ADD", "m", &a.path(), "eth0", &c, &[]);
    assert!(r.ok, "{}", r.stdout);
    // The outside has no route back to 10.231.14.0/24: only a masqueraded
    // packet (source 10.231.99.1) gets an answer.
    assert!(a.ping("10.231.99.2"), "masqueraded ping failed");
    assert!(plugin(&host, "DEL", "m", &a.path(), "eth0", &c, &[]).ok);
    let nomasq = conf(
        "masq",
        "hb0",
        "10.231.14.0/24",
        &data,
        // Without isolation either, no other rule brings nft into the ADD.
        json!({"ipMasq": false, "isolateBridges": false}),
    );
    let r = plugin(&host, "ADD", "m", &a.path(), "eth0", &nomasq, &[]);
    assert!(r.ok, "{}", r.stdout);
    assert!(a.no_reply("10.231.99.2"), "answered without masquerade");
}

#[test]
fn ipv6_and_udp_port_mappings() {
    let host = Netns::new("host");
    let server = Netns::new("srv");
    let client = Netns::new("cli");
    let data = TempDir::new("data");
    let ipam = json!({"dataDir": data.str(), "ranges": [
        [{"subnet": "10.231.15.0/24"}],
        [{"subnet": "fd00:231:15::/64"}]
    ]});
    let mapped = conf(
        "pm6",
        "hb0",
        "10.231.15.0/24",
        &data,
        json!({"ipam": ipam, "runtimeConfig": {"portMappings": [
            {"hostPort": 8080, "containerPort": 80},
            {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}
        ]}}),
    );
    let plain = conf("pm6", "hb0", "10.231.15.0/24", &data, json!({"ipam": ipam}));
    let rs = plugin(&host, "ADD", "srv", &server.path(), "eth0", &mapped, &[]);
    assert!(rs.ok, "{}", rs.stdout);
    let rc = plugin(&host, "ADD", "cli", &client.path(), "eth0", &plain, &[]);
    assert!(rc.ok, "{}", rc.stdout);
    let _tcp = Child::spawn(&[
        "ip",
        "netns",
        "exec",
        &server.name,
        "timeout",
        "30",
        "sh",
        "-c",
        "while true; do busybox nc -l -p 80 -e /bin/echo v6-ok; done",
    ]);
    let direct = ip_of(&rs.json, 1);
    let mut up = false;
    for _ in 0..50 {
        if fetch(&client, &direct, 80).is_some() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "the server did not come up on {direct}");
    // Through the gateway's IPv6 address and the mapped port.
    let body = fetch_retry(&client, "fd00:231:15::1", 8080);
    assert_eq!(body.as_deref(), Some("v6-ok\n"));
    // busybox nc has no UDP mode: check the UDP mapping is programmed.
    let rules = String::from_utf8_lossy(
        &host
            .exec(&["nft", "list", "chain", "inet", "hull-bridge", "prerouting"])
            .stdout,
    )
    .to_string();
    assert!(
        rules.contains("udp dport 5353 dnat ip to 10.231.15.2:53"),
        "{rules}"
    );
    assert!(
        rules.contains("udp dport 5353 dnat ip6 to [fd00:231:15::2]:53"),
        "{rules}"
    );
    assert!(plugin(&host, "DEL", "srv", &server.path(), "eth0", &mapped, &[]).ok);
    assert!(!host.nft_comments().iter().any(|c| c.contains(":srv/")));
}
