//! hull-probe: a small static program the conformance suite copies into a
//! container's root filesystem. It reports what the process sees, one
//! `key=value` per line, so tests can compare it with the config.
//!
//! `hull-probe report`        identity, capabilities, limits, namespaces
//! `hull-probe write PATH`    tries to write (creating) PATH: `ok` or `errno=N`
//! `hull-probe read PATH`     tries to read PATH: `ok` or `errno=N`
//! `hull-probe stat PATH`     `type mode major minor uid gid` (no symlink follow)
//! `hull-probe fds`           the open file descriptors
//! `hull-probe forks N`       forks N children that sleep 1 s: `forked=K`
//! `hull-probe try OP`        tries a privileged operation (mount, reboot,
//!                            settime, init_module, unshare, ptrace, chroot):
//!                            `ok` or `errno=N`
//! `hull-probe syscall NAME [ARG...]` issues one raw syscall (getppid, setns,
//!                            vmsplice, kexec_load, bpf, userfaultfd, add_key,
//!                            keyctl, mkdir, ...); an ARG is a number
//!                            (decimal, -N or 0x..) or else a string passed
//!                            by pointer: `ret=N` or `errno=N`
//! `hull-probe exe-attack DEV:INO SECS` for SECS seconds, tries to open the
//!                            exe of every process for writing and to find
//!                            one whose exe is file DEV:INO: `hit ...` lines
//!                            and `scans=N`

use std::ffi::CString;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("report"), _) => report(),
        (Some("write"), Some(p)) => try_io(p, true),
        (Some("read"), Some(p)) => try_io(p, false),
        (Some("stat"), Some(p)) => stat(p),
        (Some("fds"), _) => fds(),
        (Some("forks"), Some(n)) => forks(n.parse().unwrap_or(0)),
        (Some("try"), Some(what)) => try_privileged(what),
        (Some("syscall"), Some(name)) => raw_syscall(name, &args[3..]),
        (Some("exe-attack"), Some(target)) => exe_attack(
            target,
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1),
        ),
        _ => {
            eprintln!(
                "usage: hull-probe report|write PATH|read PATH|stat PATH|fds|forks N|try OP|\
                 syscall NAME [ARG...]|exe-attack DEV:INO SECS"
            );
            std::process::exit(2);
        }
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn try_io(path: &str, write: bool) -> String {
    let r = if write {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .and_then(|mut f| f.write_all(b"1"))
    } else {
        std::fs::read(path).map(|_| ())
    };
    match r {
        Ok(()) => "ok\n".into(),
        Err(e) => format!("errno={}\n", e.raw_os_error().unwrap_or(0)),
    }
}

fn stat(path: &str) -> String {
    let Ok(c) = CString::new(path) else {
        return "errno=22\n".into();
    };
    // SAFETY: stat is plain data; lstat fills it from a NUL-terminated path.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::lstat(c.as_ptr(), &mut st) } != 0 {
        return format!("errno={}\n", errno());
    }
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFCHR => "c",
        libc::S_IFBLK => "b",
        libc::S_IFDIR => "d",
        libc::S_IFLNK => "l",
        libc::S_IFIFO => "p",
        libc::S_IFSOCK => "s",
        _ => "f",
    };
    format!(
        "{kind} {:o} {} {} {} {}\n",
        st.st_mode & 0o7777,
        libc::major(st.st_rdev),
        libc::minor(st.st_rdev),
        st.st_uid,
        st.st_gid
    )
}

fn forks(n: u32) -> String {
    let mut ok = 0;
    for _ in 0..n {
        // SAFETY: the child only sleeps and exits.
        match unsafe { libc::fork() } {
            0 => {
                std::thread::sleep(std::time::Duration::from_secs(1));
                // SAFETY: leaving the child without running the parent's atexit.
                unsafe { libc::_exit(0) };
            }
            pid if pid > 0 => ok += 1,
            _ => {}
        }
    }
    // SAFETY: reaping our children.
    while unsafe { libc::wait(std::ptr::null_mut()) } > 0 {}
    format!("forked={ok}\n")
}

fn try_privileged(what: &str) -> String {
    // SAFETY: each call passes valid (or null, where allowed) arguments; on
    // success the effect stays inside the container under test.
    let r = unsafe {
        match what {
            "mount" => libc::mount(
                c"none".as_ptr(),
                c"/tmp".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null(),
            ),
            "reboot" => libc::reboot(libc::RB_POWER_OFF),
            "settime" => {
                let mut tv: libc::timeval = std::mem::zeroed();
                libc::gettimeofday(&mut tv, std::ptr::null_mut());
                libc::settimeofday(&tv, std::ptr::null())
            }
            "init_module" => libc::syscall(
                libc::SYS_init_module,
                std::ptr::null::<u8>(),
                0usize,
                c"".as_ptr(),
            ) as i32,
            "unshare" => libc::unshare(libc::CLONE_NEWNS),
            "ptrace" => libc::ptrace(libc::PTRACE_ATTACH, 1, 0, 0) as i32,
            "chroot" => libc::chroot(c"/".as_ptr()),
            _ => return "unknown operation\n".into(),
        }
    };
    if r == 0 {
        "ok\n".into()
    } else {
        format!("errno={}\n", errno())
    }
}

fn fds() -> String {
    let mut v: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    // The directory read itself used one fd: drop the highest.
    v.pop();
    format!(
        "fds={}\n",
        v.iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(",")
    )
}

const RLIMITS: &[(&str, u32)] = &[
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

fn report() -> String {
    let mut o = String::new();
    // SAFETY: these getters cannot fail.
    let (uid, gid, euid, egid) = unsafe {
        (
            libc::getuid(),
            libc::getgid(),
            libc::geteuid(),
            libc::getegid(),
        )
    };
    o += &format!("uid={uid}\ngid={gid}\neuid={euid}\negid={egid}\n");
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: getgroups writes at most groups.len() entries.
    let n = unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    o += &format!(
        "groups={}\n",
        groups
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    // SAFETY: umask returns the old mask; set it back at once.
    let mask = unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m
    };
    o += &format!("umask={mask:04o}\n");
    o += &format!(
        "cwd={}\n",
        std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    // SAFETY: utsname is plain data; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::uname(&mut uts) };
    let field = |f: &[libc::c_char]| {
        f.iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8 as char)
            .collect::<String>()
    };
    o += &format!(
        "hostname={}\ndomainname={}\n",
        field(&uts.nodename),
        field(&uts.domainname)
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for (key, name) in [
        ("CapBnd", "cap_bnd"),
        ("CapEff", "cap_eff"),
        ("CapPrm", "cap_prm"),
        ("CapInh", "cap_inh"),
        ("CapAmb", "cap_amb"),
        ("NoNewPrivs", "no_new_privs"),
        ("Seccomp", "seccomp"),
    ] {
        let v = status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or("");
        o += &format!("{name}={v}\n");
    }
    for (name, res) in RLIMITS {
        // SAFETY: rlimit is plain data; getrlimit fills it.
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::getrlimit(*res as _, &mut rl) };
        o += &format!("{name}={}:{}\n", rl.rlim_cur, rl.rlim_max);
    }
    let oom = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
    o += &format!("oom_score_adj={}\n", oom.trim());
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        let link = std::fs::read_link(format!("/proc/self/ns/{ns}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        o += &format!("ns_{ns}={link}\n");
    }
    o += &format!("pid={}\n", std::process::id());
    o
}

const SYSCALLS: &[(&str, libc::c_long)] = &[
    ("getppid", libc::SYS_getppid),
    ("getpid", libc::SYS_getpid),
    ("setns", libc::SYS_setns),
    ("unshare", libc::SYS_unshare),
    ("vmsplice", libc::SYS_vmsplice),
    ("kexec_load", libc::SYS_kexec_load),
    ("bpf", libc::SYS_bpf),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("add_key", libc::SYS_add_key),
    ("keyctl", libc::SYS_keyctl),
    ("request_key", libc::SYS_request_key),
    ("mkdir", libc::SYS_mkdir),
    ("uname", libc::SYS_uname),
    ("personality", libc::SYS_personality),
];

/// `ret=N` or `errno=N` of one raw syscall with up to six arguments.
fn raw_syscall(name: &str, args: &[String]) -> String {
    let Some(&(_, nr)) = SYSCALLS.iter().find(|(n, _)| *n == name) else {
        return "unknown syscall\n".into();
    };
    // Strings live until the call returns; numbers pass as they are.
    let mut strings = Vec::new();
    let mut vals = [0 as libc::c_long; 6];
    for (i, a) in args.iter().take(6).enumerate() {
        let num = if let Some(h) = a.strip_prefix("0x") {
            i64::from_str_radix(h, 16).ok()
        } else {
            a.parse::<i64>().ok()
        };
        vals[i] = match num {
            Some(n) => n as libc::c_long,
            None => {
                let Ok(c) = CString::new(a.as_str()) else {
                    return "errno=22\n".into();
                };
                let p = c.as_ptr() as libc::c_long;
                strings.push(c);
                p
            }
        };
    }
    // SAFETY: the syscalls in the table take integers or pointers; every
    // pointer passed is null-ish from a number the test chose or a live
    // NUL-terminated string in `strings`.
    let r = unsafe { libc::syscall(nr, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]) };
    let e = errno();
    drop(strings);
    if r < 0 {
        format!("errno={e}\n")
    } else {
        format!("ret={r}\n")
    }
}

/// CVE-2019-5736 from the inside: for `secs` seconds, scans every visible
/// process, opens its exe for writing and stats it. Prints one `hit ...`
/// line per process whose exe is the file `dev:ino` (the runtime binary on
/// the host), or could be opened for writing and is that file or a memfd
/// (the exec stub) that takes a write, then `scans=N`.
fn exe_attack(target: &str, secs: u64) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut o = String::new();
    let me = std::process::id();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut scans = 0u64;
    loop {
        scans += 1;
        let pids: Vec<u32> = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        for pid in pids.into_iter().filter(|&p| p != me) {
            let path = format!("/proc/{pid}/exe");
            if let Ok(m) = std::fs::metadata(&path) {
                if format!("{}:{}", m.dev(), m.ino()) == target {
                    o += &format!("hit {pid} exe is the runtime binary\n");
                }
            }
            // The container's own binaries (a program that just exited is
            // no longer busy) may be writable; the runtime binary and the
            // sealed exec stub must never be.
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
                let link = std::fs::read_link(&path).unwrap_or_default();
                let memfd = link.to_string_lossy().starts_with("/memfd:");
                let runtime = f
                    .metadata()
                    .is_ok_and(|m| format!("{}:{}", m.dev(), m.ino()) == target);
                if runtime || (memfd && f.write(b"\0").is_ok()) {
                    o += &format!("hit {pid} exe {} writable\n", link.display());
                }
            }
        }
        if std::time::Instant::now() > end {
            break;
        }
    }
    o += &format!("scans={scans}\n");
    o
}
