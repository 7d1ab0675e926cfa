//! The last exec goes through a tiny stub in a sealed memfd, so that no
//! process in the container ever executes the on-disk hull binary
//! (CVE-2019-5736): a program whose interpreter is `/proc/self/exe`
//! re-executes the stub, and the stub's /proc/<pid>/exe is a sealed memfd
//! nobody can write. This costs one memfd, ~150 bytes written and one exec
//! of a 150-byte static ELF, instead of copying the whole runtime binary.
//!
//! The stub is `execve(argv[0], &argv[1], envp)`, then `exit(127)`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// x86_64 code of the stub, at the start of the loaded segment + 120.
#[cfg(target_arch = "x86_64")]
const CODE: &[u8] = &[
    0x48, 0x8b, 0x7c, 0x24, 0x08, // mov rdi, [rsp+8]          ; argv[0]: the program's path
    0x48, 0x8d, 0x74, 0x24, 0x10, // lea rsi, [rsp+16]         ; &argv[1]: its argv
    0x48, 0x8b, 0x04, 0x24, //       mov rax, [rsp]            ; argc
    0x48, 0x8d, 0x54, 0xc4, 0x10, // lea rdx, [rsp+rax*8+16]   ; envp
    0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59               ; execve
    0x0f, 0x05, //                   syscall
    0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
    0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231              ; exit_group
    0x0f, 0x05, //                   syscall
];

#[cfg(target_arch = "x86_64")]
fn image() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let total = HEADERS + CODE.len() as u64;
    let mut elf = Vec::with_capacity(total as usize);
    // ELF header: 64-bit, little endian, current version, System V ABI.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    elf.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    elf.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers offset
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // header size
    elf.extend_from_slice(&56u16.to_le_bytes()); // program header size
    elf.extend_from_slice(&1u16.to_le_bytes()); // one program header
    elf.extend_from_slice(&[0; 6]); // no sections
                                    // One PT_LOAD, read + execute, mapping the whole file at BASE.
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&5u32.to_le_bytes());
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&BASE.to_le_bytes());
    elf.extend_from_slice(&BASE.to_le_bytes());
    elf.extend_from_slice(&total.to_le_bytes());
    elf.extend_from_slice(&total.to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    elf.extend_from_slice(CODE);
    elf
}

/// A sealed, executable memfd holding the stub; None where the stub is not
/// available (another architecture, or memfds cannot be executed here).
pub fn sealed_stub() -> Option<OwnedFd> {
    #[cfg(target_arch = "x86_64")]
    {
        const MFD_EXEC: libc::c_uint = 0x10;
        let name = c"hull-exec";
        let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        // SAFETY: memfd_create with a static name returns a new fd or -1;
        // MFD_EXEC is refused by kernels before 6.3, then retried without.
        let mut fd = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
        if fd < 0 {
            // SAFETY: as above.
            fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        }
        if fd < 0 {
            return None;
        }
        // SAFETY: just created, owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let img = image();
        // SAFETY: writes `img.len()` bytes from a live buffer.
        let n = unsafe { libc::write(fd.as_raw_fd(), img.as_ptr().cast(), img.len()) };
        if n != img.len() as isize {
            return None;
        }
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: fcntl on an fd we own.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return None;
        }
        Some(fd)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// Execs `path` with `argv` and `envp` through the stub. Returns only if
/// the stub itself could not be executed (the caller then execs directly).
pub fn exec_through(
    stub: &OwnedFd,
    path: &CString,
    argv: &[CString],
    envp: &[*const libc::c_char],
) {
    let mut stub_argv: Vec<*const libc::c_char> = Vec::with_capacity(argv.len() + 2);
    stub_argv.push(path.as_ptr());
    stub_argv.extend(argv.iter().map(|a| a.as_ptr()));
    stub_argv.push(std::ptr::null());
    // SAFETY: argv and envp are null-terminated arrays of NUL-terminated
    // strings that outlive the call; AT_EMPTY_PATH execs the fd itself.
    // (The raw syscall: the libc crate has no execveat wrapper for musl.)
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            stub.as_raw_fd(),
            c"".as_ptr(),
            stub_argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    #[test]
    fn stub_runs_a_program_with_its_argv_and_env() {
        let stub = super::sealed_stub().expect("memfd stub");
        // SAFETY: fork in a test; the child only execs or exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let path = std::ffi::CString::new("/bin/sh").unwrap_or_default();
            let argv = ["sh", "-c", "test \"$0\" = sh && test \"$X\" = y && exit 7"]
                .map(|a| std::ffi::CString::new(a).unwrap_or_default());
            let env = std::ffi::CString::new("X=y").unwrap_or_default();
            let envp = [env.as_ptr(), std::ptr::null()];
            super::exec_through(&stub, &path, &argv, &envp);
            // SAFETY: leaving the forked child.
            unsafe { libc::_exit(99) };
        }
        let mut status = 0;
        // SAFETY: reaping our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 7);
    }

    #[test]
    fn stub_memfd_cannot_be_written() {
        let stub = super::sealed_stub().expect("memfd stub");
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&stub));
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
        assert!(err.is_err(), "a sealed stub accepted a write");
    }
}
