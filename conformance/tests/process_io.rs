//! The process's terminal and file descriptors: `--console-socket` (the pty
//! master sent with SCM_RIGHTS, as containerd and conmon expect),
//! `--preserve-fds`, and foreground `run` with a terminal.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;

use hull_conformance::*;
use serde_json::json;

/// Receives one fd sent with SCM_RIGHTS on `sock`.
fn recv_fd(sock: &std::os::unix::net::UnixStream) -> Option<OwnedFd> {
    let mut buf = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cmsg = [0u64; 8];
    // SAFETY: msghdr is plain data; every pointer in it outlives recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: receives into the buffers described by msg.
    if unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) } < 0 {
        return None;
    }
    // SAFETY: walking the control messages the kernel wrote into cmsg.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return None;
        }
        let fd = *(libc::CMSG_DATA(c) as *const i32);
        Some(OwnedFd::from_raw_fd(fd))
    }
}

#[test]
fn process_terminal_master_goes_to_the_console_socket() {
    let w = World::new("console");
    let mut b = w.bundle("b", &["sh", "-c", "tty; echo on-the-pty"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let sock_path = w.dir.join("console.sock");
    let listener = UnixListener::bind(&sock_path).expect("bind console socket");
    let o = w.rt(&[
        "create",
        "--bundle",
        b.path(),
        "--console-socket",
        sock_path.to_str().unwrap_or(""),
        "c1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (conn, _) = listener.accept().expect("the runtime connects");
    let master = recv_fd(&conn).expect("a pty master arrives");
    assert!(w.rt(&["start", "c1"]).status.success());
    let mut out = String::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 512];
    // Read until the program is done (EIO once the slave side is closed).
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
        if out.contains("on-the-pty") {
            break;
        }
    }
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert!(out.contains("on-the-pty"), "{out:?}");
}

#[test]
fn process_preserve_fds_passes_extra_fds() {
    let w = World::new("preserve");
    let b = w.bundle("b", &["sh", "-c", "echo through-fd-3 >&3"]);
    b.save();
    let out_path = w.dir.join("fd3.out");
    let file = std::fs::File::create(&out_path).expect("create");
    let fd = file.as_raw_fd();
    let mut cmd = std::process::Command::new(runtime());
    cmd.arg("--root")
        .arg(&w.root)
        .args(["run", "--preserve-fds", "1", "--bundle", b.path(), "c1"]);
    // SAFETY: dup2 in the child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                // dup2(3, 3) would keep close-on-exec set.
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        "through-fd-3\n"
    );
}

#[test]
fn process_fds_are_closed_even_when_seccomp_denies_close_range() {
    // runtime-tools' default profile predates close_range: the runtime must
    // still keep its fds out of the container.
    let w = World::new("close-range");
    let mut b = w.bundle("b", &["probe", "fds"]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["close_range"], "action": "SCMP_ACT_ERRNO" }]
    });
    b.save();
    let o = w.rt(&["run", "--bundle", b.path(), "c1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "fds=0,1,2\n");
}
