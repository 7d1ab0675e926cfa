//! hull-bridge in OCI hook mode under real hull containers: the
//! `createRuntime` hook attaches each container to a bridge, the `poststop`
//! hook detaches it. hull and the hooks run inside a private "host" network
//! namespace, so nothing reaches the real host's network.
//!
//! Needs `target/debug/hull` (or `$HULL_RUNTIME`); `make test` builds it.
//! Without it the test says so and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{leases, unique, Netns, TempDir};
use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn hull_binary() -> Option<PathBuf> {
    let path = std::env::var_os("HULL_RUNTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/hull"));
    path.is_file().then_some(path)
}

/// hull with its own state root, run inside the test's host namespace
/// (nsenter: `ip netns exec` would remount /sys and hide the cgroup tree).
struct Hull {
    bin: PathBuf,
    root: String,
    host: String,
}

impl Hull {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net={}", self.host))
            .arg(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("hull {args:?}: {e}"))
    }

    fn must(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hull {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `run -d`: the container keeps the stdio it is given, so it gets
    /// /dev/null and a file, never a pipe we would wait on.
    fn run_detached(&self, bundle: &Path, id: &str) {
        let log = bundle.join("run.log");
        let status = Command::new("nsenter")
            .arg(format!("--net={}", self.host))
            .arg(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["run", "-d", "--bundle"])
            .arg(bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("run.log"))
            .status()
            .expect("hull run -d");
        assert!(
            status.success(),
            "hull run -d {id} failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// A container's eth0 IPv4 address.
    fn addr(&self, id: &str) -> String {
        let out = self.must(&["exec", id, "ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
        out.split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .unwrap_or_else(|| panic!("no IPv4 address on eth0 of {id}: {out:?}"))
            .to_string()
    }

    fn ping(&self, id: &str, addr: &str) -> bool {
        (0..3).any(|_| {
            self.run(&["exec", id, "ping", "-c1", "-W1", addr])
                .status
                .success()
        })
    }
}

/// Force-deletes the containers on drop (declared after the namespace, so it
/// runs before the namespace goes).
struct Containers<'a> {
    hull: &'a Hull,
    ids: Vec<String>,
}

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.hull.run(&["delete", "--force", id]);
        }
    }
}

/// A busybox bundle running `args`, with CAP_NET_RAW (ping) and the two hooks.
fn bundle(dir: &Path, conf: &Path, args: &[&str]) {
    let out = Command::new("bash")
        .arg(workspace().join("scripts/mkbundle.sh"))
        .arg(dir)
        .args(args)
        .output()
        .expect("mkbundle.sh");
    assert!(
        out.status.success(),
        "mkbundle.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("config.json");
    let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    if let Some(caps) = c["process"]["capabilities"].as_object_mut() {
        for (set, list) in caps.iter_mut() {
            if set != "ambient" {
                if let Some(l) = list.as_array_mut() {
                    l.push(json!("CAP_NET_RAW"));
                }
            }
        }
    }
    let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
    if !ns.iter().any(|n| n["type"] == "network") {
        ns.push(json!({"type": "network"}));
    }
    let hook = |op: &str| {
        json!([{
            "path": env!("CARGO_BIN_EXE_hull-bridge"),
            "args": ["hull-bridge", "hook", op, "--config", conf.display().to_string()],
        }])
    };
    c["hooks"] = json!({"createRuntime": hook("add"), "poststop": hook("del")});
    std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
}

#[test]
fn hull_containers_on_a_bridge_through_hooks() {
    let Some(bin) = hull_binary() else {
        eprintln!(
            "SKIPPED: {} does not exist (build it: cargo build -p hull)",
            workspace().join("target/debug/hull").display()
        );
        return;
    };
    let host = Netns::new("hull");
    let tmp = TempDir::new("hull");
    let data = tmp.path.join("leases");
    let conf = tmp.path.join("net.conflist");
    let network = "hbhull";
    std::fs::write(
        &conf,
        json!({
            "cniVersion": "1.1.0",
            "name": network,
            "plugins": [{
                "type": "hull-bridge",
                "bridge": "hbhull0",
                "isGateway": true,
                "isDefaultGateway": true,
                "ipMasq": true,
                "ipam": {"subnet": "10.77.9.0/24", "dataDir": data.display().to_string()},
            }],
        })
        .to_string(),
    )
    .unwrap();

    let hull = Hull {
        bin,
        root: tmp.path.join("state").display().to_string(),
        host: host.path(),
    };
    let ids = [unique("c1"), unique("c2")];
    let containers = Containers {
        hull: &hull,
        ids: ids.to_vec(),
    };
    for id in &ids {
        let dir = tmp.path.join(id);
        bundle(&dir, &conf, &["sleep", "300"]);
        hull.run_detached(&dir, id);
    }
    let a1 = hull.addr(&ids[0]);
    let a2 = hull.addr(&ids[1]);
    assert_ne!(a1, a2);
    assert_eq!(leases(&data.join(network)).len(), 2);

    assert!(hull.ping(&ids[0], &a2), "{} cannot ping {a2}", ids[0]);
    assert!(hull.ping(&ids[1], &a1), "{} cannot ping {a1}", ids[1]);
    assert!(host.ping(&a1), "the host cannot ping {a1}");
    assert!(hull.ping(&ids[0], "10.77.9.1"), "no reply from the gateway");

    // delete runs the poststop hooks: leases, rules and veths are gone.
    drop(containers);
    assert!(
        hull.must(&["list", "-q"]).trim().is_empty(),
        "containers left"
    );
    assert_eq!(leases(&data.join(network)), Vec::<String>::new());
    assert!(
        host.nft_comments().iter().all(|c| !c.starts_with(network)),
        "rules left: {:?}",
        host.nft_comments()
    );
    // The kernel tears a dead container's namespace down in the background;
    // DEL does not wait for that and removes the host ends itself.
    assert_eq!(host.links("veth"), Vec::<String>::new());
}
