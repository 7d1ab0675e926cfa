//! Filters installed in the real kernel, each in a forked child that reports
//! through its exit status. Children only make raw syscalls (no allocation)
//! between fork and exit, since the test harness is multithreaded.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use hull_seccomp::{compile, from_containers_profile, install, Compiled};
use oci_spec::runtime::LinuxSeccomp;

#[derive(Debug, PartialEq)]
enum Outcome {
    Exited(i32),
    Signaled(i32),
}

/// Kills and reaps the child unless it was reaped already.
struct Child(libc::pid_t);

impl Child {
    fn wait(mut self) -> Outcome {
        let mut status = 0;
        // SAFETY: waiting for our own child; `status` is a valid out pointer.
        let rc = unsafe { libc::waitpid(self.0, &mut status, 0) };
        assert_eq!(rc, self.0, "waitpid: {}", std::io::Error::last_os_error());
        self.0 = 0;
        if libc::WIFEXITED(status) {
            Outcome::Exited(libc::WEXITSTATUS(status))
        } else {
            Outcome::Signaled(libc::WTERMSIG(status))
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Exit codes of the child's setup.
const SETUP_NNP: i32 = 120;
const SETUP_INSTALL: i32 = 121;

fn errno() -> i32 {
    // SAFETY: errno is thread-local and always readable.
    unsafe { *libc::__errno_location() }
}

/// Forks; the child sets no_new_privs, installs `c` (if any), runs `body` and
/// exits with its result.
fn spawn_opt(c: Option<&Compiled>, body: impl FnOnce(Option<OwnedFd>) -> i32) -> Child {
    // SAFETY: the child only makes syscalls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: plain prctl; _exit never returns.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(SETUP_NNP);
            }
            let code = match c.map(install).transpose() {
                Ok(fd) => body(fd.flatten()),
                Err(_) => SETUP_INSTALL,
            };
            libc::_exit(code);
        }
    }
    Child(pid)
}

fn spawn(c: &Compiled, body: impl FnOnce(Option<OwnedFd>) -> i32) -> Child {
    spawn_opt(Some(c), body)
}

fn run(c: &Compiled, body: impl FnOnce() -> i32) -> Outcome {
    spawn(c, |_| body()).wait()
}

fn profile(json: &str) -> Compiled {
    let p: LinuxSeccomp = serde_json::from_str(json).unwrap();
    compile(&p).unwrap()
}

/// 0 if `rc` is -1 with `want` in errno, else a code saying what happened.
fn expect_errno(rc: libc::c_long, want: i32) -> i32 {
    match (rc, errno()) {
        (-1, e) if e == want => 0,
        (-1, _) => 2,
        _ => 3,
    }
}

#[test]
fn errno_allow_and_default_errno_ret() {
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":42},
            {"names":["uname"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let out = run(&c, || {
        let mut buf = [0u8; 256];
        // SAFETY: raw syscalls on a local buffer.
        unsafe {
            if expect_errno(
                libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()),
                42,
            ) != 0
            {
                return 10;
            }
            if expect_errno(
                libc::syscall(libc::SYS_uname, buf.as_mut_ptr()),
                libc::EPERM,
            ) != 0
            {
                return 11;
            }
            if libc::syscall(libc::SYS_getppid) <= 0 {
                return 12;
            }
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));

    // Allowlist: the default errno applies to everything else.
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":77,"syscalls":[
            {"names":["exit_group","exit","getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let out = run(&c, || {
        // SAFETY: raw syscalls without arguments.
        unsafe {
            if libc::syscall(libc::SYS_getpid) <= 0 {
                return 10;
            }
            expect_errno(libc::syscall(libc::SYS_getppid), 77)
        }
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn kill_process_trap_and_log() {
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    );
    let out = run(&c, || {
        // SAFETY: raw syscall without arguments.
        unsafe { libc::syscall(libc::SYS_getppid) };
        1
    });
    assert_eq!(out, Outcome::Signaled(libc::SIGSYS));

    extern "C" fn on_sigsys(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(42) }
    }
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_TRAP"}]}"#,
    );
    let out = run(&c, || {
        // SAFETY: installing a handler that only calls _exit, then a raw syscall.
        unsafe {
            libc::signal(libc::SIGSYS, on_sigsys as *const () as libc::sighandler_t);
            libc::syscall(libc::SYS_getppid);
        }
        1
    });
    assert_eq!(
        out,
        Outcome::Exited(42),
        "TRAP must deliver a catchable SIGSYS"
    );

    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_LOG"}]}"#,
    );
    // SAFETY: raw syscall.
    let out = run(&c, || unsafe {
        (libc::syscall(libc::SYS_getppid) <= 0) as i32
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn argument_rules() {
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]},
            {"names":["personality"],"action":"SCMP_ACT_ERRNO"},
            {"names":["openat"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
             "args":[{"index":2,"value":64,"valueTwo":64,"op":"SCMP_CMP_MASKED_EQ"}]},
            {"names":["lseek"],"action":"SCMP_ACT_ERRNO","errnoRet":33,
             "args":[{"index":1,"value":4294967301,"op":"SCMP_CMP_EQ"},{"index":2,"value":1,"op":"SCMP_CMP_LE"}]}]}"#,
    );
    let out = run(&c, || {
        // SAFETY: raw syscalls with constant arguments and static strings.
        unsafe {
            if libc::syscall(libc::SYS_personality, 0xffff_ffffu64) < 0 {
                return 10;
            }
            if expect_errno(libc::syscall(libc::SYS_personality, 8u64), libc::EPERM) != 0 {
                return 11;
            }
            let fd = libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c"/".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY,
            );
            if fd < 0 {
                return 12;
            }
            let path = c"/nonexistent-hull-seccomp-test/x";
            if expect_errno(
                libc::syscall(
                    libc::SYS_openat,
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY,
                    0o600,
                ),
                libc::EACCES,
            ) != 0
            {
                return 13;
            }
            // Same low half, different high half: not matched (EBADF from the kernel).
            if expect_errno(libc::syscall(libc::SYS_lseek, -1, 5u64, 0), libc::EBADF) != 0 {
                return 14;
            }
            if expect_errno(libc::syscall(libc::SYS_lseek, -1, 0x1_0000_0005u64, 0), 33) != 0 {
                return 15;
            }
            // Second condition (whence <= 1) fails: not matched.
            if expect_errno(
                libc::syscall(libc::SYS_lseek, -1, 0x1_0000_0005u64, 2),
                libc::EBADF,
            ) != 0
            {
                return 16;
            }
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn notify_listener_receives_and_replies() {
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(c.notify);
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are new and ours.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let wr_raw = wr.as_raw_fd();
    let child = spawn(&c, |listener| {
        let Some(l) = listener else { return 10 };
        let n = l.as_raw_fd();
        // SAFETY: writes 4 bytes from a local; then a raw syscall.
        unsafe {
            if libc::write(wr_raw, &n as *const i32 as *const libc::c_void, 4) != 4 {
                return 11;
            }
            if libc::syscall(libc::SYS_getppid) != 4242 {
                return 12;
            }
        }
        0
    });
    drop(wr);
    let mut n: i32 = -1;
    // SAFETY: reads at most 4 bytes into `n`.
    let got = unsafe { libc::read(rd.as_raw_fd(), &mut n as *mut i32 as *mut libc::c_void, 4) };
    assert_eq!(got, 4, "child did not report its listener fd");
    // SAFETY: pidfd_open / pidfd_getfd on our own child, fds checked below.
    let listener = unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, child.0, 0) as i32;
        assert!(
            pidfd >= 0,
            "pidfd_open: {}",
            std::io::Error::last_os_error()
        );
        let pidfd = OwnedFd::from_raw_fd(pidfd);
        let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), n, 0) as i32;
        assert!(fd >= 0, "pidfd_getfd: {}", std::io::Error::last_os_error());
        OwnedFd::from_raw_fd(fd)
    };
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(
        unsafe { libc::poll(&mut pfd, 1, 5000) },
        1,
        "no notification within 5 s"
    );
    // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: RECV fills `req`.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut req,
        )
    };
    assert_eq!(rc, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    assert_eq!(req.data.nr as libc::c_long, libc::SYS_getppid);
    assert_eq!(req.pid as i32, child.0);
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 4242,
        error: 0,
        flags: 0,
    };
    // SAFETY: SEND reads `resp`.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    };
    assert_eq!(rc, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    assert_eq!(child.wait(), Outcome::Exited(0));
}

/// Runs busybox with `args` under `c`; returns its exit outcome and output.
fn busybox(c: &Compiled, args: &[&str]) -> (Outcome, String) {
    let argv_c: Vec<CString> = std::iter::once("busybox")
        .chain(args.iter().copied())
        .map(|a| CString::new(a).unwrap())
        .collect();
    let mut argv: Vec<*const libc::c_char> = argv_c.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let envp: [*const libc::c_char; 2] = [c"PATH=/bin:/usr/bin".as_ptr(), std::ptr::null()];
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are new and ours.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let wr_raw = wr.as_raw_fd();
    let child = spawn(c, |_| {
        // SAFETY: dup2 onto stdio (clearing CLOEXEC) and execve with NUL-terminated arrays.
        unsafe {
            libc::dup2(wr_raw, 1);
            libc::dup2(wr_raw, 2);
            libc::execve(c"/bin/busybox".as_ptr(), argv.as_ptr(), envp.as_ptr());
        }
        127
    });
    drop(wr);
    let out = std::io::read_to_string(std::fs::File::from(rd)).unwrap();
    (child.wait(), out)
}

#[test]
fn containers_default_profile_runs_busybox() {
    let json = std::fs::read_to_string("/usr/share/containers/seccomp.json")
        .expect("apt-get install golang-github-containers-common");
    let p = from_containers_profile(&json, &[]).unwrap();
    let c = compile(&p).unwrap();
    assert!(c.program.len() < 4096);
    let (out, text) = busybox(
        &c,
        &[
            "sh",
            "-c",
            "echo ok; chroot / /bin/busybox true; echo rc=$?",
        ],
    );
    assert_eq!(out, Outcome::Exited(0), "{text}");
    assert!(text.starts_with("ok\n"), "{text}");
    assert!(
        text.contains("Operation not permitted") && text.ends_with("rc=1\n"),
        "{text}"
    );

    // Explicitly denied: EPERM; not listed at all: the default, ENOSYS.
    let out = run(&c, || {
        // SAFETY: raw syscalls with null/zero arguments; all are refused by the filter.
        unsafe {
            if expect_errno(libc::syscall(libc::SYS_kexec_load, 0, 0, 0, 0), libc::EPERM) != 0 {
                return 10;
            }
            if expect_errno(libc::syscall(libc::SYS_chroot, c"/".as_ptr()), libc::EPERM) != 0 {
                return 11;
            }
            #[cfg(target_arch = "x86_64")]
            if expect_errno(libc::syscall(libc::SYS_tuxcall), libc::ENOSYS) != 0 {
                return 12;
            }
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));

    // With CAP_SYS_CHROOT the chroot rule turns into ALLOW.
    let p = from_containers_profile(&json, &["CAP_SYS_CHROOT"]).unwrap();
    let c = compile(&p).unwrap();
    let (out, text) = busybox(&c, &["chroot", "/", "/bin/busybox", "echo", "inside"]);
    assert_eq!((out, text.as_str()), (Outcome::Exited(0), "inside\n"));
}

#[test]
fn hull_default_profile() {
    let c = compile(&hull_seccomp::default_profile()).unwrap();
    let (out, text) = busybox(&c, &["sh", "-c", "echo ok; unshare -u true; echo rc=$?"]);
    assert_eq!(out, Outcome::Exited(0), "{text}");
    assert!(
        text.starts_with("ok\n") && text.ends_with("rc=1\n"),
        "{text}"
    );
    let out = run(&c, || {
        // SAFETY: raw syscalls refused by the filter.
        unsafe {
            if expect_errno(
                libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUTS),
                libc::EPERM,
            ) != 0
            {
                return 10;
            }
            if expect_errno(libc::syscall(libc::SYS_clone3, 0, 0), libc::ENOSYS) != 0 {
                return 11;
            }
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

/// i386 `getpid` via `int 0x80` from this x86_64 process: killed when only the
/// native architecture is in the filter, allowed when SCMP_ARCH_X86 is.
#[cfg(target_arch = "x86_64")]
#[test]
fn foreign_architecture() {
    fn int80_getpid() -> i64 {
        let ret: i64;
        // SAFETY: i386 getpid (20) takes no arguments and touches no memory.
        unsafe {
            std::arch::asm!("int 0x80", inlateout("rax") 20i64 => ret, options(nostack));
        }
        ret
    }
    let unfiltered = spawn_opt(None, |_| (int80_getpid() <= 0) as i32).wait();
    if unfiltered != Outcome::Exited(0) {
        eprintln!("skipping: no ia32 emulation in this kernel ({unfiltered:?})");
        return;
    }
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(
        run(&c, || int80_getpid() as i32),
        Outcome::Signaled(libc::SIGSYS)
    );
    let c = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],
            "syscalls":[{"names":["getpid","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(run(&c, || (int80_getpid() <= 0) as i32), Outcome::Exited(0));
}
