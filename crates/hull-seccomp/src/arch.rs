//! Architectures hull can filter: the audit token the kernel reports in
//! `seccomp_data.arch`, the syscall table, and the argument width.

use oci_spec::runtime::Arch;

use crate::syscall_table;

/// `AUDIT_ARCH_*` values from <linux/audit.h>.
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub(crate) const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub(crate) const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// x32 syscalls arrive with `AUDIT_ARCH_X86_64` and this bit set in the number.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(crate) struct ArchSpec {
    pub(crate) arch: Arch,
    /// What the kernel puts in `seccomp_data.arch` for this ABI.
    pub(crate) audit: u32,
    /// Syscall numbers of this ABI lie in `range` (x86_64 and x32 share a token).
    pub(crate) range: (u32, u32),
    pub(crate) table: &'static [(&'static str, u32)],
    /// Arguments are 32 bits wide: the high halves are always zero.
    pub(crate) args32: bool,
}

pub(crate) const ARCHES: &[ArchSpec] = &[
    ArchSpec {
        arch: Arch::ScmpArchX86_64,
        audit: AUDIT_ARCH_X86_64,
        range: (0, X32_SYSCALL_BIT - 1),
        table: syscall_table::X86_64,
        args32: false,
    },
    ArchSpec {
        arch: Arch::ScmpArchX32,
        audit: AUDIT_ARCH_X86_64,
        // u32::MAX (-1, a syscall skipped by a tracer) is nobody's: default action.
        range: (X32_SYSCALL_BIT, u32::MAX - 1),
        table: syscall_table::X32,
        args32: false,
    },
    ArchSpec {
        arch: Arch::ScmpArchX86,
        audit: AUDIT_ARCH_I386,
        range: (0, u32::MAX),
        table: syscall_table::X86,
        args32: true,
    },
    ArchSpec {
        arch: Arch::ScmpArchAarch64,
        audit: AUDIT_ARCH_AARCH64,
        range: (0, u32::MAX),
        table: syscall_table::AARCH64,
        args32: false,
    },
    ArchSpec {
        arch: Arch::ScmpArchArm,
        audit: AUDIT_ARCH_ARM,
        range: (0, u32::MAX),
        table: syscall_table::ARM,
        args32: true,
    },
];

/// The architecture this binary runs as; always part of every filter, as with libseccomp.
pub fn native() -> Arch {
    if cfg!(target_arch = "x86_64") && cfg!(target_pointer_width = "32") {
        Arch::ScmpArchX32
    } else if cfg!(target_arch = "x86_64") {
        Arch::ScmpArchX86_64
    } else if cfg!(target_arch = "x86") {
        Arch::ScmpArchX86
    } else if cfg!(target_arch = "aarch64") {
        Arch::ScmpArchAarch64
    } else if cfg!(target_arch = "arm") {
        Arch::ScmpArchArm
    } else {
        Arch::ScmpArchNative
    }
}

pub(crate) fn spec(arch: Arch) -> Option<&'static ArchSpec> {
    ARCHES.iter().find(|a| a.arch == arch)
}

impl ArchSpec {
    pub(crate) fn lookup(&self, name: &str) -> Option<u32> {
        self.table
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| self.table[i].1)
    }
}
