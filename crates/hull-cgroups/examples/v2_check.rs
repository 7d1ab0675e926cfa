//! Real-kernel checks on a pure cgroup v2 host, run inside one
//! `cgroup2-vm` boot by tests/v2/run-in-vm.sh (repo root). Exits non-zero on the first failure.

use hull_cgroups::{detect, Layout, Manager};
use oci_spec::runtime::LinuxResources;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type R = Result<(), String>;

fn res(v: serde_json::Value) -> Result<LinuxResources, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn read(d: &Path, f: &str) -> Result<String, String> {
    std::fs::read_to_string(d.join(f))
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("read {}: {e}", d.join(f).display()))
}

fn expect_eq(d: &Path, f: &str, want: &str) -> R {
    let got = read(d, f)?;
    if got == want {
        println!("ok   {f} = {want:?}");
        Ok(())
    } else {
        Err(format!("{f}: got {got:?}, want {want:?}"))
    }
}

fn ensure(cond: bool, what: &str) -> R {
    if cond {
        println!("ok   {what}");
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn spawn_gated(m: &Manager, script: &str) -> Result<Child, String> {
    let c = Command::new("sh")
        .arg("-c")
        .arg(format!("read _gate; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    m.add_task(c.id() as i32).map_err(|e| e.to_string())?;
    Ok(c)
}

fn release(c: &mut Child) -> R {
    let stdin = c.stdin.as_mut().ok_or("no stdin")?;
    stdin.write_all(b"go\n").map_err(|e| e.to_string())
}

fn state(pid: u32) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next())
        })
        .unwrap_or('?')
}

fn wait_for(mut f: impl FnMut() -> bool, what: &str) -> R {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn run(m: &Manager, children: &mut Vec<Child>) -> R {
    let e = |e: hull_cgroups::CgroupError| e.to_string();
    ensure(detect().map_err(e)? == Layout::V2, "layout is V2")?;
    m.create().map_err(e)?;
    let d = m.paths().unified.clone().ok_or("no unified path")?;
    ensure(
        d.is_dir(),
        "cgroup directory created (nested, subtree_control enabled)",
    )?;
    ensure(m.v2_dir_fd().is_some(), "v2_dir_fd for CLONE_INTO_CGROUP")?;

    children.push(spawn_gated(m, "exec sleep 30")?);
    children.push(spawn_gated(m, "while :; do :; done")?);
    m.apply(&res(serde_json::json!({
        "memory": {"limit": 67108864, "swap": 100663296, "reservation": 16777216},
        "pids": {"limit": 20},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "blockIO": {"weight": 500},
        "unified": {"memory.high": "104857600"}
    }))?)
    .map_err(e)?;
    expect_eq(&d, "memory.max", "67108864")?;
    expect_eq(&d, "memory.low", "16777216")?;
    if d.join("memory.swap.max").exists() {
        expect_eq(&d, "memory.swap.max", "33554432")?;
    }
    expect_eq(&d, "memory.high", "104857600")?;
    expect_eq(&d, "pids.max", "20")?;
    expect_eq(&d, "cpu.max", "50000 100000")?;
    expect_eq(&d, "cpu.weight", "39")?;
    expect_eq(&d, "cpuset.cpus", "0")?;
    if d.join("io.weight").exists() {
        expect_eq(&d, "io.weight", "default 4950")?;
    } else {
        println!("skip io.weight (no io.weight file in this kernel)");
    }
    m.apply(&res(
        serde_json::json!({"cpu": {"quota": -1, "period": 100000}, "memory": {"limit": -1}}),
    )?)
    .map_err(e)?;
    expect_eq(&d, "cpu.max", "max 100000")?;
    expect_eq(&d, "memory.max", "max")?;
    ensure(
        m.apply(&res(serde_json::json!({"unified": {"memory.bogus": "1"}}))?)
            .is_err_and(|x| x.to_string().contains("memory.bogus")),
        "unknown unified key rejected",
    )?;
    ensure(
        m.apply(&res(serde_json::json!({"network": {"classID": 3}}))?)
            .is_err(),
        "network rejected on v2",
    )?;

    // devices: eBPF program denies /dev/urandom, allows /dev/null and /dev/zero.
    let script =
        "echo ok > /dev/null && head -c1 /dev/zero >/dev/null && exec head -c1 /dev/urandom";
    let mut c = spawn_gated(m, script)?;
    m.apply(&res(serde_json::json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}
    ]}))?)
    .map_err(e)?;
    release(&mut c)?;
    let out = c.wait_with_output().map_err(|x| x.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    ensure(
        !out.status.success() && err.contains("Operation not permitted"),
        &format!("device program denies /dev/urandom (stderr: {err:?})"),
    )?;
    // A second apply replaces the program.
    m.apply(&res(
        serde_json::json!({"devices": [{"allow": true, "access": "rwm"}]}),
    )?)
    .map_err(e)?;
    let mut c = spawn_gated(m, script)?;
    release(&mut c)?;
    let out = c.wait_with_output().map_err(|x| x.to_string())?;
    ensure(
        out.status.success(),
        "re-applied program allows /dev/urandom",
    )?;

    // pids.max stops forks.
    m.apply(&res(serde_json::json!({"pids": {"limit": 5}}))?)
        .map_err(e)?;
    let mut f = spawn_gated(
        m,
        "for n in 1 2 3 4 5 6 7 8 9 10; do sleep 10 >/dev/null 2>&1 & done; wait",
    )?;
    release(&mut f)?;
    let out = f.wait_with_output().map_err(|x| x.to_string())?;
    ensure(!out.status.success(), "fork loop fails under pids.max=5")?;
    m.apply(&res(serde_json::json!({"pids": {"limit": 100}}))?)
        .map_err(e)?;

    // freeze / thaw
    let sleeper = children[0].id();
    release(&mut children[0])?;
    release(&mut children[1])?;
    wait_for(|| state(sleeper) == 'S', "sleep running")?;
    m.freeze().map_err(e)?;
    ensure(m.is_frozen().map_err(e)?, "is_frozen after freeze")?;
    expect_eq(&d, "cgroup.freeze", "1")?;
    ensure(
        read(&d, "cgroup.events")?.contains("frozen 1"),
        "cgroup.events frozen 1",
    )?;
    // v2 frozen tasks still show 'S'; check the effect: a busy loop gets no CPU.
    let usage = |d: &Path| -> Result<String, String> {
        Ok(read(d, "cpu.stat")?
            .lines()
            .next()
            .unwrap_or_default()
            .to_string())
    };
    let before = usage(&d)?;
    std::thread::sleep(Duration::from_millis(200));
    ensure(usage(&d)? == before, "no CPU used while frozen")?;
    m.thaw().map_err(e)?;
    ensure(!m.is_frozen().map_err(e)?, "thawed")?;
    wait_for(|| state(sleeper) == 'S', "thawed task sleeping")?;

    // stats
    let s = m.stats().map_err(e)?;
    ensure(s.cpu.usage.total > 0, "stats cpu usage > 0")?;
    ensure(s.memory.usage.usage > 0, "stats memory usage > 0")?;
    ensure(s.pids.current >= 1 && s.pids.limit == 100, "stats pids")?;
    println!(
        "stats: {}",
        serde_json::to_string(&s).map_err(|x| x.to_string())?
    );

    // kill_all through cgroup.kill
    m.kill_all(libc::SIGKILL).map_err(e)?;
    for c in children.iter_mut() {
        let st = c.wait().map_err(|x| x.to_string())?;
        ensure(
            st.signal() == Some(libc::SIGKILL),
            "cgroup.kill killed the task",
        )?;
    }
    children.clear();

    // destroy with a live process and a child cgroup
    children.push(spawn_gated(m, "sleep 30")?);
    std::fs::create_dir(d.join("sub")).map_err(|x| x.to_string())?;
    m.destroy().map_err(e)?;
    ensure(!d.exists(), "destroy removed the cgroup")?;
    m.destroy().map_err(e)?;
    ensure(true, "destroy is idempotent")
}

fn main() {
    let parent = format!("/hull-v2-test-{}", std::process::id());
    let m = match Manager::new(Some(&format!("{parent}/ctr")), "ctr") {
        Ok(m) => m,
        Err(err) => {
            eprintln!("FAIL Manager::new: {err}");
            std::process::exit(1);
        }
    };
    let mut children = Vec::new();
    let r = run(&m, &mut children);
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = m.thaw();
    let _ = m.destroy();
    let _ = std::fs::remove_dir(format!("/sys/fs/cgroup{parent}"));
    match r {
        Ok(()) => println!("PASS v2 checks"),
        Err(err) => {
            eprintln!("FAIL {err}");
            std::process::exit(1);
        }
    }
}
