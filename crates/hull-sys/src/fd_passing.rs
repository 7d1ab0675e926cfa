//! Passing one file descriptor over a unix socket with `SCM_RIGHTS`, the way
//! runc hands a pty master to `--console-socket`.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

/// Sends `fd` over `sock` with `name` as the message body (runc sends the
/// pty's path as the body).
pub fn send_fd(sock: BorrowedFd<'_>, name: &[u8], fd: RawFd) -> io::Result<()> {
    send_fds(sock, name, &[fd])
}

/// Sends `fds` (at most [`MAX_FDS`]) in one message with `body`.
pub fn send_fds(sock: BorrowedFd<'_>, body: &[u8], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} fds in one message, at most {MAX_FDS}", fds.len()),
        ));
    }
    let iov = [IoSlice::new(if body.is_empty() { b"\0" } else { body })];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsg: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(sock.as_raw_fd(), &iov, cmsg, MsgFlags::empty(), None)?;
    Ok(())
}

/// The most fds [`send_fds`] sends and [`recv_fds`] takes in one message
/// (a v1 host has about a dozen cgroup hierarchies).
pub const MAX_FDS: usize = 32;

/// Receives one fd sent by [`send_fd`]; returns it with the message body.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<(OwnedFd, Vec<u8>)> {
    let (fds, body) = recv_fds(sock)?;
    match fds.into_iter().next() {
        Some(fd) => Ok((fd, body)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no file descriptor in message",
        )),
    }
}

/// Receives one message with every fd it carries (up to [`MAX_FDS`]). The
/// body buffer is left uninitialised: zeroing 64 KiB for every message cost
/// 16 page faults in a freshly forked init.
pub fn recv_fds(sock: BorrowedFd<'_>) -> io::Result<(Vec<OwnedFd>, Vec<u8>)> {
    const BODY: usize = 64 * 1024;
    // Room for MAX_FDS ints, aligned for cmsghdr.
    let mut control = [0u64; (MAX_FDS * 4 + 64) / 8];
    let mut buf: Vec<u8> = Vec::with_capacity(BODY);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: BODY,
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let n = recv_queued(|| {
        // SAFETY: msg points to one iovec over BODY bytes of `buf`'s
        // allocation and to `control`, both alive for the call.
        unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) }
    })?;
    // SAFETY: the kernel wrote the first n bytes (n <= BODY).
    unsafe { buf.set_len(n) };
    let mut received = Vec::new();
    // SAFETY: walking the control messages the kernel wrote into `control`,
    // with the libc macros, within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c) as *const RawFd;
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for k in 0..len / std::mem::size_of::<RawFd>() {
                    // The kernel just installed this fd for us; nobody
                    // else owns it.
                    received.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(k))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((received, buf))
}

/// Runs `recv` (a `recv`/`recvmsg` call) until it gives a packet or EOF.
///
/// When the peer closes with packets of ours still unread, the kernel marks
/// our socket with ECONNRESET, and on a datagram or seqpacket socket that
/// error is reported *before* the packets the peer sent us, which are still
/// queued. A container init that fails and exits before it reads what
/// `create` sent leaves its reason that way: so a reset is skipped once (the
/// kernel clears it as it reports it) and the queue is read on.
pub fn recv_queued(mut recv: impl FnMut() -> isize) -> io::Result<usize> {
    let mut reset_seen = false;
    loop {
        let n = recv();
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::ECONNRESET) if !reset_seen => reset_seen = true,
            _ => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    fn pair(kind: libc::c_int) -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two new fds into the array.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                kind | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0, "socketpair: {}", io::Error::last_os_error());
        // SAFETY: both fds are new and ours.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn pipe() -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two new fds into the array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds are new and ours.
        unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    #[test]
    fn several_fds_and_the_body_arrive_over_seqpacket_and_stream() {
        for kind in [libc::SOCK_SEQPACKET, libc::SOCK_STREAM] {
            let (a, b) = pair(kind);
            let pipes: Vec<_> = (0..3).map(|_| pipe()).collect();
            let raw: Vec<RawFd> = pipes.iter().map(|(_, w)| w.as_raw_fd()).collect();
            send_fds(a.as_fd(), b"tasks", &raw).expect("send");
            let (fds, body) = recv_fds(b.as_fd()).expect("recv");
            assert_eq!(body, b"tasks");
            assert_eq!(fds.len(), 3);
            for (i, (fd, (r, _))) in fds.into_iter().zip(&pipes).enumerate() {
                let mut w = std::fs::File::from(fd);
                w.write_all(&[i as u8])
                    .expect("write through the received fd");
                let mut got = [0u8];
                (&*r).read_exact(&mut got).expect("read");
                assert_eq!(got[0], i as u8);
            }
        }
    }

    #[test]
    fn a_message_without_fds_and_eof() {
        let (a, b) = pair(libc::SOCK_SEQPACKET);
        send_fds(a.as_fd(), b"plain", &[]).expect("send");
        let (fds, body) = recv_fds(b.as_fd()).expect("recv");
        assert!(fds.is_empty());
        assert_eq!(body, b"plain");
        drop(a);
        let (fds, body) = recv_fds(b.as_fd()).expect("recv at EOF");
        assert!(fds.is_empty() && body.is_empty());
    }

    #[test]
    fn what_a_peer_sent_before_closing_on_unread_data_is_still_received() {
        let (a, b) = pair(libc::SOCK_SEQPACKET);
        send_fds(a.as_fd(), b"why it failed", &[]).expect("send");
        // b sends something a never reads; a closing then resets b.
        send_fds(b.as_fd(), b"unread", &[]).expect("send back");
        drop(a);
        let (_, body) = recv_fds(b.as_fd()).expect("the queued packet, not ECONNRESET");
        assert_eq!(body, b"why it failed");
        let (fds, body) = recv_fds(b.as_fd()).expect("recv at EOF");
        assert!(fds.is_empty() && body.is_empty());
    }
}
