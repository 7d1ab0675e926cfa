//! Compiler unit tests: programs run in a small classic-BPF interpreter and are
//! compared with a direct evaluation of the profile.

use libc::sock_filter;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompOperator as Op,
};

use crate::arch::{self, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::{compile, SeccompError};

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL: u32 = libc::SECCOMP_RET_KILL_THREAD;
fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

/// Runs `p` on a `seccomp_data`; panics on anything the kernel's checker would refuse.
fn run(p: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let i = p[pc];
        pc += 1;
        let k = i.k;
        let cond = |c: bool| if c { i.jt as usize } else { i.jf as usize };
        match i.code {
            0x20 => {
                let k = k as usize;
                assert!(k & 3 == 0 && k + 4 <= 64, "bad load {k}");
                a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
            }
            0x54 => a &= k,
            0x05 => pc += k as usize,
            0x15 => pc += cond(a == k),
            0x25 => pc += cond(a > k),
            0x35 => pc += cond(a >= k),
            0x06 => return k,
            c => panic!("unexpected opcode {c:#x}"),
        }
        assert!(pc < p.len(), "jump past the end");
    }
}

fn profile(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).unwrap()
}

fn x86_64(p: &LinuxSeccomp, name: &str, args: [u64; 6]) -> u32 {
    let c = compile(p).unwrap();
    let nr = arch::spec(Arch::ScmpArchX86_64)
        .unwrap()
        .lookup(name)
        .unwrap();
    run(c.program.instructions(), AUDIT_ARCH_X86_64, nr, args)
}

/// What the profile says for (arch, nr, args): first matching rule, else default.
fn reference(p: &LinuxSeccomp, a: Arch, nr: u32, args: [u64; 6]) -> u32 {
    let spec = arch::spec(a).unwrap();
    let default = crate::action::encode(p.default_action(), p.default_errno_ret(), "").unwrap();
    for s in p.syscalls().iter().flatten() {
        if !s.names().iter().any(|n| spec.lookup(n) == Some(nr)) {
            continue;
        }
        let holds = |c: &LinuxSeccompArg| {
            let mut v = args[c.index()];
            if spec.args32 {
                v &= 0xffff_ffff;
            }
            match c.op() {
                Op::ScmpCmpNe => v != c.value(),
                Op::ScmpCmpLt => v < c.value(),
                Op::ScmpCmpLe => v <= c.value(),
                Op::ScmpCmpEq => v == c.value(),
                Op::ScmpCmpGe => v >= c.value(),
                Op::ScmpCmpGt => v > c.value(),
                Op::ScmpCmpMaskedEq => v & c.value() == c.value_two().unwrap_or(0),
            }
        };
        if s.args().iter().flatten().all(holds) {
            return crate::action::encode(s.action(), s.errno_ret(), "").unwrap();
        }
    }
    default
}

#[test]
fn default_action_and_allowlist() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
            "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                        {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
                        {"names":["uname"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(x86_64(&p, "read", [0; 6]), ALLOW);
    assert_eq!(x86_64(&p, "write", [0; 6]), ALLOW);
    assert_eq!(x86_64(&p, "open", [0; 6]), errno(38));
    assert_eq!(x86_64(&p, "mkdirat", [0; 6]), errno(13));
    assert_eq!(x86_64(&p, "uname", [0; 6]), errno(libc::EPERM));
    let c = compile(&p).unwrap();
    assert_eq!(
        run(
            c.program.instructions(),
            AUDIT_ARCH_X86_64,
            u32::MAX,
            [0; 6]
        ),
        errno(38)
    );
}

#[test]
fn every_action_encodes() {
    for (a, want) in [
        ("SCMP_ACT_KILL", KILL),
        ("SCMP_ACT_KILL_THREAD", KILL),
        ("SCMP_ACT_KILL_PROCESS", libc::SECCOMP_RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", libc::SECCOMP_RET_TRAP),
        ("SCMP_ACT_ERRNO", errno(libc::EPERM)),
        (
            "SCMP_ACT_TRACE",
            libc::SECCOMP_RET_TRACE | libc::EPERM as u32,
        ),
        ("SCMP_ACT_LOG", libc::SECCOMP_RET_LOG),
        ("SCMP_ACT_NOTIFY", libc::SECCOMP_RET_USER_NOTIF),
    ] {
        let p = profile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpid"],"action":"{a}"}}]}}"#
        ));
        assert_eq!(x86_64(&p, "getpid", [0; 6]), want, "{a}");
        assert_eq!(x86_64(&p, "getppid", [0; 6]), ALLOW, "{a}");
    }
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_TRACE","errnoRet":1234}]}"#,
    );
    assert_eq!(x86_64(&p, "getpid", [0; 6]), libc::SECCOMP_RET_TRACE | 1234);
}

#[test]
fn bad_profiles_are_refused() {
    let cases = [
        (r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#, "defaultAction"),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}"#,
            "errnoRet",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#,
            "70000",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":1}]}"#,
            "syscalls[0]",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "index 6",
        ),
    ];
    for (json, needle) in cases {
        let err = compile(&profile(json)).unwrap_err().to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
    // Unknown names of actions, operators, architectures and flags fail to parse,
    // and the error names them.
    for (json, needle) in [
        (r#"{"defaultAction":"SCMP_ACT_BOGUS"}"#, "SCMP_ACT_BOGUS"),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}"#,
            "SCMP_ARCH_VAX",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_BOGUS"]}"#,
            "SECCOMP_FILTER_FLAG_BOGUS",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}"#,
            "SCMP_CMP_XX",
        ),
    ] {
        let err = serde_json::from_str::<LinuxSeccomp>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
}

#[test]
fn unknown_syscalls_warn() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","no_such_call"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let c = compile(&p).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("no_such_call"), "{:?}", c.warnings);
    assert_eq!(x86_64(&p, "read", [0; 6]), ALLOW);
}

#[test]
fn flags_and_notify() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}"#,
    );
    let c = compile(&p).unwrap();
    assert_eq!(c.flags, 0b111);
    assert!(!c.notify);
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls":[{"names":["uname"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    let c = compile(&p).unwrap();
    assert!(c.notify);
    assert_eq!(
        c.flags,
        libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
            | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
            | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    );
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    );
    let c = compile(&p).unwrap();
    assert_eq!(c.flags, 0);
    assert_eq!(c.warnings.len(), 1);
}

#[test]
fn architectures() {
    let only_native = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let c = compile(&only_native).unwrap();
    let p = c.program.instructions();
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 0, [0; 6]), ALLOW);
    // Not in the filter: i386, aarch64 and x32 (x86_64 token, x32 bit) are killed,
    // x32's `read` does not match the x86_64 rule for `read`.
    assert_eq!(run(p, AUDIT_ARCH_I386, 3, [0; 6]), KILL);
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 63, [0; 6]), KILL);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, [0; 6]), KILL);

    let multi = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO",
            "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64","SCMP_ARCH_S390X"],
            "syscalls":[{"names":["read","rt_sigaction"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let c = compile(&multi).unwrap();
    assert!(
        c.warnings.iter().any(|w| w.contains("SCMP_ARCH_S390X")),
        "{:?}",
        c.warnings
    );
    let p = c.program.instructions();
    let eperm = errno(libc::EPERM);
    assert_eq!(run(p, AUDIT_ARCH_I386, 3, [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_I386, 0, [0; 6]), eperm);
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 63, [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 0, [0; 6]), eperm);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, [0; 6]), ALLOW);
    // x32 uses 512 for rt_sigaction; 13 | X32 bit is the (refused) 64-bit variant.
    assert_eq!(
        run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 512, [0; 6]),
        ALLOW
    );
    assert_eq!(
        run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 13, [0; 6]),
        eperm
    );
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 13, [0; 6]), ALLOW);
    assert_eq!(run(p, 0x8000_0016, 3, [0; 6]), KILL);
}

const VALUES: &[u64] = &[
    0,
    1,
    2,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x1_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];

const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

#[test]
fn argument_comparisons_match_reference() {
    for op in OPS {
        for &v in VALUES {
            let two = if *op == "SCMP_CMP_MASKED_EQ" {
                v & 0x1_0000_0001
            } else {
                0
            };
            let p = profile(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],
                    "syscalls":[{{"names":["personality"],"action":"SCMP_ACT_ALLOW",
                    "args":[{{"index":3,"value":{v},"valueTwo":{two},"op":"{op}"}}]}}]}}"#
            ));
            let c = compile(&p).unwrap();
            for &arg in VALUES {
                for (a, audit, name_nr) in [
                    (Arch::ScmpArchX86_64, AUDIT_ARCH_X86_64, 135),
                    (Arch::ScmpArchX86, AUDIT_ARCH_I386, 136),
                ] {
                    let mut args = [0; 6];
                    args[3] = arg;
                    if a == Arch::ScmpArchX86 {
                        args[3] &= 0xffff_ffff;
                    }
                    assert_eq!(
                        run(c.program.instructions(), audit, name_nr, args),
                        reference(&p, a, name_nr, args),
                        "{op} value {v:#x} valueTwo {two:#x} arg {arg:#x} on {a}"
                    );
                }
            }
        }
    }
}

#[test]
fn rules_and_conditions() {
    // Several args: AND. Several rules: first match wins, then default.
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":22,
             "args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"},{"index":2,"value":9,"op":"SCMP_CMP_EQ"}]},
            {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
             "args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"}]},
            {"names":["socket"],"action":"SCMP_ACT_KILL_PROCESS"},
            {"names":["socket"],"action":"SCMP_ACT_LOG"}]}"#,
    );
    assert_eq!(x86_64(&p, "socket", [16, 3, 9, 0, 0, 0]), errno(22));
    assert_eq!(x86_64(&p, "socket", [16, 3, 0, 0, 0, 0]), errno(1));
    assert_eq!(
        x86_64(&p, "socket", [2, 1, 9, 0, 0, 0]),
        libc::SECCOMP_RET_KILL_PROCESS
    );
    assert_eq!(x86_64(&p, "bind", [16, 3, 9, 0, 0, 0]), ALLOW);
}

#[test]
fn repeated_argument_index_means_or() {
    // runc's behaviour: two conditions on the same argument are separate rules.
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["fstat"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":5,"op":"SCMP_CMP_EQ"},{"index":0,"value":7,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(x86_64(&p, "fstat", [5, 0, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(x86_64(&p, "fstat", [7, 0, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(x86_64(&p, "fstat", [6, 0, 0, 0, 0, 0]), ALLOW);
}

/// Every syscall number of every architecture, against the reference.
fn check_exhaustively(p: &LinuxSeccomp) -> usize {
    let c = compile(p).unwrap();
    let prog = c.program.instructions();
    let arches: Vec<Arch> = p.architectures().clone().unwrap_or_default();
    let probe_args: &[[u64; 6]] = &[
        [0; 6],
        [0x7e02_0000, 0, 0, 0, 0, 0],
        [8, 0, 0, 0, 0, 0],
        [16, 3, 9, 0, 0, 0],
    ];
    for a in arches.iter().copied().chain([Arch::ScmpArchX86_64]) {
        let Some(spec) = arch::spec(a) else { continue };
        for &(_, nr) in spec.table {
            for args in probe_args {
                let want = reference(p, a, nr, *args);
                assert_eq!(
                    run(prog, spec.audit, nr, *args),
                    want,
                    "{a} nr {nr:#x} {args:?}"
                );
            }
        }
    }
    prog.len()
}

#[test]
fn default_profile_compiles_and_matches_reference() {
    let p = crate::default_profile();
    let len = check_exhaustively(&p);
    eprintln!("default_profile: {len} instructions");
    assert!(len > 256 && len < 4096, "{len}");
    let c = compile(&p).unwrap();
    assert!(c.warnings.len() < 10, "{:?}", c.warnings);
    assert_eq!(x86_64(&p, "clone", [0x11, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        x86_64(&p, "clone", [0x1000_0011, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(x86_64(&p, "clone3", [0; 6]), errno(libc::ENOSYS));
    assert_eq!(x86_64(&p, "unshare", [0; 6]), errno(libc::EPERM));
}

#[test]
fn containers_profile_compiles_and_matches_reference() {
    let Ok(json) = std::fs::read_to_string("/usr/share/containers/seccomp.json") else {
        panic!("install golang-github-containers-common for /usr/share/containers/seccomp.json");
    };
    for caps in [&[][..], &["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"][..]] {
        let p = crate::from_containers_profile(&json, caps).unwrap();
        let len = check_exhaustively(&p);
        eprintln!("containers profile, caps {caps:?}: {len} instructions");
        assert!(len < 4096, "{len}");
    }
}

#[test]
fn long_jumps_and_size_limit() {
    // Many argument rules force far branches (trampolines) ...
    let mut rules = Vec::new();
    for name in [
        "read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "mmap",
    ] {
        for v in 0..20 {
            rules.push(format!(
                r#"{{"names":["{name}"],"action":"SCMP_ACT_ERRNO","errnoRet":{},"args":[{{"index":1,"value":{v},"op":"SCMP_CMP_EQ"}}]}}"#,
                v + 1
            ));
        }
    }
    let p = profile(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{}]}}"#,
        rules.join(",")
    ));
    let len = check_exhaustively(&p);
    assert!(len > 600, "{len}");
    let c = compile(&p).unwrap();
    let long_jumps = c
        .program
        .instructions()
        .iter()
        .filter(|i| i.code == 0x05)
        .count();
    assert!(
        long_jumps > 0,
        "no trampoline in a {len}-instruction program"
    );
    for v in 0..20u64 {
        assert_eq!(x86_64(&p, "mmap", [0, v, 0, 0, 0, 0]), errno(v as i32 + 1));
    }
    // ... and too many exceed BPF_MAXINSNS.
    let mut rules = Vec::new();
    for v in 0..1500 {
        rules.push(format!(
            r#"{{"names":["read"],"action":"SCMP_ACT_LOG","args":[{{"index":0,"value":{v},"op":"SCMP_CMP_EQ"}}]}}"#
        ));
    }
    let p = profile(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{}]}}"#,
        rules.join(",")
    ));
    assert!(matches!(compile(&p), Err(SeccompError::TooLarge { .. })));
}

#[test]
fn containers_profile_conditions() {
    let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
        "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
                   {"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],
        "syscalls":[
          {"names":["chroot"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_CHROOT"]},"excludes":{}},
          {"names":["chroot"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"errno":"EPERM","excludes":{"caps":["CAP_SYS_CHROOT"]}},
          {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64","x32"]}},
          {"names":["set_tls"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm","arm64"]}},
          {"names":["bpf"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"99.0"}},
          {"names":["read"],"action":"SCMP_ACT_ALLOW","args":null,"comment":"x","includes":{"minKernel":"4.8"}}]}"#;
    let p = crate::from_containers_profile(json, &[]).unwrap();
    assert_eq!(
        p.architectures().clone().unwrap(),
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    );
    let names: Vec<String> = p
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names().clone())
        .collect();
    assert_eq!(names, ["chroot", "arch_prctl", "read"]);
    assert_eq!(x86_64(&p, "chroot", [0; 6]), errno(1));
    let p = crate::from_containers_profile(json, &["sys_chroot"]).unwrap();
    assert_eq!(x86_64(&p, "chroot", [0; 6]), ALLOW);
    assert_eq!(p.default_action(), Action::ScmpActErrno);

    let bad = json.replace(
        r#""SCMP_ACT_ALLOW","args":null"#,
        r#""SCMP_ACT_NOPE","args":null"#,
    );
    let err = crate::from_containers_profile(&bad, &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("syscalls[2]") && err.contains("SCMP_ACT_NOPE"),
        "{err}"
    );
}

#[test]
fn program_bytes_round_trip() {
    let c = compile(&crate::default_profile()).expect("the default profile compiles");
    let bytes = c.program.to_bytes();
    assert_eq!(bytes.len(), c.program.len() * 8);
    let back = crate::Program::from_bytes(&bytes).expect("whole instructions");
    let same =
        |a: &sock_filter, b: &sock_filter| (a.code, a.jt, a.jf, a.k) == (b.code, b.jt, b.jf, b.k);
    assert_eq!(back.len(), c.program.len());
    assert!(back
        .instructions()
        .iter()
        .zip(c.program.instructions())
        .all(|(a, b)| same(a, b)));
    assert!(crate::Program::from_bytes(&bytes[..bytes.len() - 3]).is_none());
    assert!(crate::Program::from_bytes(&vec![0u8; 8 * 4097]).is_none());
}
