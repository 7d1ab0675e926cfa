//! `hull-floor ROOTFS PROGRAM [ARGS...]`: what the kernel charges for a
//! container, with nothing of a runtime around it. It makes the namespaces
//! of `hull spec`'s default config (mount, pid, uts, ipc, network, cgroup),
//! mounts a fresh /proc in ROOTFS, pivots into it and execs PROGRAM, then
//! waits and exits with its status. `make bench` measures it as the floor
//! that `hull run` is compared with (issue #7); it is not part of hull.

use std::ffi::{CString, NulError};
use std::io;
use std::process::exit;

fn check(what: &str, r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|e: NulError| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// In the child, PID 1 of the new namespace: mounts, pivot_root, exec.
fn enter(rootfs: &str, argv: &[String]) -> io::Result<()> {
    let root = cstr(rootfs)?;
    let proc_dir = cstr(&format!("{rootfs}/proc"))?;
    let dot = cstr(".")?;
    let argv: Vec<CString> = argv.iter().map(|a| cstr(a)).collect::<io::Result<_>>()?;
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: every pointer is a NUL-terminated string that outlives the
    // call, or null where the call allows it.
    unsafe {
        // A fresh bundle may have no /proc yet (hull makes mount points).
        if libc::mkdir(proc_dir.as_ptr(), 0o555) < 0
            && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST)
        {
            return Err(io::Error::last_os_error());
        }
        check(
            "make / private",
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
        )?;
        check(
            "bind the rootfs",
            libc::mount(
                root.as_ptr(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ),
        )?;
        check(
            "mount /proc",
            libc::mount(
                c"proc".as_ptr(),
                proc_dir.as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ),
        )?;
        check("chdir to the rootfs", libc::chdir(root.as_ptr()))?;
        check(
            "pivot_root",
            libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) as libc::c_int,
        )?;
        check(
            "detach the old root",
            libc::umount2(dot.as_ptr(), libc::MNT_DETACH),
        )?;
        libc::execv(ptrs[0], ptrs.as_ptr());
    }
    Err(io::Error::last_os_error())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: hull-floor ROOTFS PROGRAM [ARGS...]");
        exit(2);
    }
    let flags = libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP;
    // SAFETY: plain syscalls on a single-threaded process; the child only
    // calls async-signal-safe functions before exec (it allocates, which
    // is fine with one thread).
    unsafe {
        if let Err(e) = check("unshare", libc::unshare(flags)) {
            eprintln!("hull-floor: {e}");
            exit(1);
        }
        match libc::fork() {
            0 => {
                let e = enter(&args[1], &args[2..]).err();
                eprintln!(
                    "hull-floor: {}",
                    e.map_or_else(String::new, |e| e.to_string())
                );
                libc::_exit(127);
            }
            pid if pid > 0 => {
                let mut status = 0;
                if libc::waitpid(pid, &mut status, 0) < 0 {
                    eprintln!("hull-floor: waitpid: {}", io::Error::last_os_error());
                    exit(1);
                }
                exit(if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    128 + libc::WTERMSIG(status)
                });
            }
            _ => {
                eprintln!("hull-floor: fork: {}", io::Error::last_os_error());
                exit(1);
            }
        }
    }
}
