//! OCI action names -> `SECCOMP_RET_*` values, and filter flag names -> bits.

use oci_spec::runtime::{LinuxSeccompAction as Action, LinuxSeccompFilterFlag as Flag};

use crate::SeccompError;

/// The errno of ERRNO and the message of TRACE when `errnoRet` is absent (as runc).
pub(crate) const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// The kernel clamps larger errno values to MAX_ERRNO; refuse them instead.
const MAX_ERRNO: u32 = 4095;

/// The action applied to a syscall from an architecture that the filter does not
/// cover; libseccomp's default (`SCMP_ACT_KILL`, i.e. kill the thread).
pub(crate) const BAD_ARCH: u32 = libc::SECCOMP_RET_KILL_THREAD;

/// Encodes `action` with its `errnoRet`; `what` names the profile field for errors.
pub(crate) fn encode(
    action: Action,
    errno_ret: Option<u32>,
    what: &str,
) -> Result<u32, SeccompError> {
    let data = |limit: u32| -> Result<u32, SeccompError> {
        let v = errno_ret.unwrap_or(DEFAULT_ERRNO);
        if v > limit {
            return Err(SeccompError::ErrnoRet {
                what: what.to_string(),
                value: v,
            });
        }
        Ok(v)
    };
    if errno_ret.is_some() && !matches!(action, Action::ScmpActErrno | Action::ScmpActTrace) {
        return Err(SeccompError::ErrnoRetWithoutErrno {
            what: what.to_string(),
            action: action.to_string(),
        });
    }
    Ok(match action {
        Action::ScmpActKill | Action::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        Action::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        Action::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        Action::ScmpActErrno => libc::SECCOMP_RET_ERRNO | data(MAX_ERRNO)?,
        Action::ScmpActTrace => libc::SECCOMP_RET_TRACE | data(libc::SECCOMP_RET_DATA)?,
        Action::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        Action::ScmpActLog => libc::SECCOMP_RET_LOG,
        Action::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
    })
}

/// `linux.seccomp.flags` names and their `SECCOMP_FILTER_FLAG_*` bits.
pub(crate) const FLAGS: &[(Flag, libc::c_ulong)] = &[
    (
        Flag::SeccompFilterFlagTsync,
        libc::SECCOMP_FILTER_FLAG_TSYNC,
    ),
    (Flag::SeccompFilterFlagLog, libc::SECCOMP_FILTER_FLAG_LOG),
    (
        Flag::SeccompFilterFlagSpecAllow,
        libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    ),
    (
        Flag::SeccompFilterFlagWaitKillableRecv,
        libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    ),
];

pub(crate) fn flag_bit(flag: Flag) -> Result<libc::c_ulong, SeccompError> {
    FLAGS
        .iter()
        .find(|(f, _)| *f == flag)
        .map(|(_, b)| *b)
        .ok_or_else(|| SeccompError::UnknownFlag(flag.to_string()))
}
