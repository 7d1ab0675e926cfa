//! Per-process attributes from `process`: rlimits, oom_score_adj,
//! personality, scheduler, I/O priority, user and groups, umask.

use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy, Process,
    Spec,
};

use crate::error::{Error, Result};

/// RLIMIT names of the spec to resource numbers (c_int: glibc's constants
/// are u32, musl's c_int).
const RLIMITS: &[(&str, libc::c_int)] = &[
    ("RLIMIT_AS", libc::RLIMIT_AS as libc::c_int),
    ("RLIMIT_CORE", libc::RLIMIT_CORE as libc::c_int),
    ("RLIMIT_CPU", libc::RLIMIT_CPU as libc::c_int),
    ("RLIMIT_DATA", libc::RLIMIT_DATA as libc::c_int),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE as libc::c_int),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS as libc::c_int),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK as libc::c_int),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE as libc::c_int),
    ("RLIMIT_NICE", libc::RLIMIT_NICE as libc::c_int),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE as libc::c_int),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC as libc::c_int),
    ("RLIMIT_RSS", libc::RLIMIT_RSS as libc::c_int),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO as libc::c_int),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME as libc::c_int),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING as libc::c_int),
    ("RLIMIT_STACK", libc::RLIMIT_STACK as libc::c_int),
];

pub fn set_rlimits(process: &Process) -> Result<()> {
    for rl in process.rlimits().iter().flatten() {
        let name = format!(
            "RLIMIT_{}",
            rl.typ().to_string().trim_start_matches("RLIMIT_")
        );
        let res = RLIMITS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| *r)
            .ok_or_else(|| Error::Config(format!("process.rlimits: unknown type {name}")))?;
        let lim = libc::rlimit {
            rlim_cur: rl.soft(),
            rlim_max: rl.hard(),
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(res as _, &lim) } != 0 {
            let e = std::io::Error::last_os_error();
            let mut why = format!(
                "setrlimit {name} (soft {}, hard {}): {e}",
                rl.soft(),
                rl.hard()
            );
            if e.raw_os_error() == Some(libc::EPERM) {
                why.push_str(
                    ": raising a hard limit above the host's needs CAP_SYS_RESOURCE, which this host does not grant",
                );
            }
            return Err(Error::Init(why));
        }
    }
    Ok(())
}

pub fn set_oom_score_adj(process: &Process) -> Result<()> {
    let Some(adj) = process.oom_score_adj() else {
        return Ok(());
    };
    std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EACCES) {
            " (lowering it needs CAP_SYS_RESOURCE)"
        } else {
            ""
        };
        Error::Init(format!("process.oomScoreAdj {adj}: {e}{hint}"))
    })
}

const PER_LINUX: libc::c_ulong = 0x0000;
const PER_LINUX32: libc::c_ulong = 0x0008;

pub fn set_personality(spec: &Spec) -> Result<()> {
    let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) else {
        return Ok(());
    };
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    if let Some(flags) = p.flags() {
        if let Some(f) = flags.first() {
            return Err(Error::Config(format!(
                "linux.personality.flags: unsupported flag {f:?}"
            )));
        }
    }
    // SAFETY: personality() only changes our execution domain.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(Error::sys("personality", std::io::Error::last_os_error()));
    }
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

pub fn set_scheduler(process: &Process) -> Result<()> {
    let Some(s) = process.scheduler() else {
        return Ok(());
    };
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: s.priority().unwrap_or(0) as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: sched_setattr reads the struct of the size it declares.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        return Err(Error::sys(
            "process.scheduler: sched_setattr",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

pub fn set_io_priority(process: &Process) -> Result<()> {
    let Some(p) = process.io_priority() else {
        return Ok(());
    };
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..8).contains(&p.priority()) {
        return Err(Error::Config(format!(
            "process.ioPriority.priority: {} is out of range 0-7",
            p.priority()
        )));
    }
    let prio = (class << 13) | p.priority();
    const IOPRIO_WHO_PROCESS: i64 = 1;
    // SAFETY: ioprio_set on ourselves with plain integers.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    if r != 0 {
        return Err(Error::sys(
            "process.ioPriority: ioprio_set",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// setgroups, setresgid, setresuid; capabilities survive through
/// PR_SET_KEEPCAPS so the caller can set them exactly afterwards.
pub fn set_user(process: &Process, allow_setgroups: bool) -> Result<()> {
    let user = process.user();
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    if allow_setgroups {
        let groups: Vec<libc::gid_t> = user.additional_gids().clone().unwrap_or_default();
        // SAFETY: setgroups reads `groups.len()` gids from the vector.
        if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
            return Err(Error::sys(
                format!("process.user.additionalGids: setgroups {groups:?}"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    let (uid, gid) = (user.uid(), user.gid());
    // SAFETY: plain credential syscalls on ourselves.
    if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
        return Err(Error::sys(
            format!("process.user.gid: setresgid {gid}"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: as above.
    if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
        return Err(Error::sys(
            format!("process.user.uid: setresuid {uid}"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    Ok(())
}

pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: prctl on ourselves.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(Error::sys(
            "prctl(PR_SET_NO_NEW_PRIVS)",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

pub fn set_umask(process: &Process) {
    let mask = process.user().umask().unwrap_or(0o022);
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
}
