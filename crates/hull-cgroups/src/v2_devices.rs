//! cgroup v2 device control: the OCI device rules compiled into a
//! BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` with `access_type = access << 16 | type`, and returns 1 to
//! allow, 0 to deny. Rules are evaluated last to first (a later rule
//! overrides an earlier one, as with v1 devices.allow/deny); the last
//! "all devices, rwm" rule sets the default and drops the rules before it.

use crate::CgroupError;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high nibble.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// Opcodes: class | op | source.
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

struct Rule {
    allow: bool,
    typ: Option<i32>,
    major: Option<i32>,
    minor: Option<i32>,
    access: i32,
}

fn rule(d: &LinuxDeviceCgroup) -> Result<Rule, CgroupError> {
    // Same validation and defaults as v1.
    crate::v1::device_rule(d)?;
    let typ = match d.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some(DEV_BLOCK),
        Some(_) => Some(DEV_CHAR),
    };
    let num = |v: Option<i64>| v.filter(|n| *n >= 0).map(|n| n as i32);
    let access = d
        .access()
        .as_deref()
        .unwrap_or("rwm")
        .chars()
        .fold(0, |a, c| {
            a | match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => ACC_MKNOD,
            }
        });
    Ok(Rule {
        allow: d.allow(),
        typ,
        major: num(d.major()),
        minor: num(d.minor()),
        access,
    })
}

/// Compiles the rules into BPF instructions.
pub(crate) fn compile(devs: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>, CgroupError> {
    let mut default_allow = true;
    let mut rules: Vec<Rule> = Vec::new();
    for d in devs {
        let r = rule(d)?;
        if r.typ.is_none() && r.major.is_none() && r.minor.is_none() && r.access == ACC_ALL {
            default_allow = r.allow;
            rules.clear();
        } else {
            rules.push(r);
        }
    }
    let mut prog = vec![
        insn(LDX_W, 2, 1, 0, 0), // r2 = type
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0), // r3 = access
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0), // r4 = major
        insn(LDX_W, 5, 1, 8, 0), // r5 = minor
    ];
    for r in rules.iter().rev() {
        let mut block = Vec::new();
        if let Some(t) = r.typ {
            block.push(insn(JNE_K, 2, 0, 0, t));
        }
        if r.access != ACC_ALL {
            // Match only if every requested access bit is in the rule.
            block.push(insn(MOV32_X, 6, 3, 0, 0));
            block.push(insn(AND32_K, 6, 0, 0, !r.access & ACC_ALL));
            block.push(insn(JNE_K, 6, 0, 0, 0));
        }
        if let Some(m) = r.major {
            block.push(insn(JNE_K, 4, 0, 0, m));
        }
        if let Some(m) = r.minor {
            block.push(insn(JNE_K, 5, 0, 0, m));
        }
        block.push(insn(MOV64_K, 0, 0, 0, i32::from(r.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        // Conditional jumps skip to the end of this block.
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
    }
    prog.push(insn(MOV64_K, 0, 0, 0, i32::from(default_allow)));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    Ok(prog)
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    pad: [u64; 8],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    pad: [u32; 3],
}

fn bpf_err(what: &'static str, dir: &Path) -> CgroupError {
    CgroupError::Bpf {
        what,
        path: dir.to_path_buf(),
        source: std::io::Error::last_os_error(),
    }
}

/// Loads the program and attaches it to `dir`, replacing the program a
/// previous apply attached (single-program attach, no flags).
pub(crate) fn apply(dir: &Path, devs: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let prog = compile(devs)?;
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..9].copy_from_slice(b"hull_devs");
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    // SAFETY: attr is a fully initialised bpf_attr prefix (rest zeroed) whose
    // pointers (insns, license) stay valid for the duration of the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    if fd < 0 {
        return Err(bpf_err("loading the device BPF program for", dir));
    }
    // SAFETY: the kernel just returned this new fd and nothing else owns it.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| CgroupError::Bpf {
        what: "opening",
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    let attr = ProgAttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    // SAFETY: attr is a fully initialised bpf_attr prefix for BPF_PROG_ATTACH;
    // both fds are open for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if rc < 0 {
        return Err(bpf_err("attaching the device BPF program to", dir));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devs(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn deny_all_then_allow_compiles_to_blocks() {
        let p = compile(&devs(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}
        ])))
        .unwrap();
        // 6 preamble + (jne type, mov, and, jne, jne maj, jne min, ret) + (type, maj, min, ret) + default
        assert_eq!(p.len(), 6 + 8 + 5 + 2);
        // Last rule first: type check skips the rest of its 8-instruction block.
        assert_eq!(p[6], insn(JNE_K, 2, 0, 7, DEV_CHAR));
        assert_eq!(p[8], insn(AND32_K, 6, 0, 0, ACC_MKNOD | ACC_WRITE));
        assert_eq!(p[p.len() - 2], insn(MOV64_K, 0, 0, 0, 0));
    }

    #[test]
    fn no_rules_allow_everything() {
        let p = compile(&[]).unwrap();
        assert_eq!(p[p.len() - 2], insn(MOV64_K, 0, 0, 0, 1));
    }
}
