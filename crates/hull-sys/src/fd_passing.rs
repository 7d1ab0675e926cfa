//! Passing one file descriptor over a unix socket with `SCM_RIGHTS`, the way
//! runc hands a pty master to `--console-socket`.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

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
    let (fd, body) = recv_maybe_fd(sock)?;
    match fd {
        Some(fd) => Ok((fd, body)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no file descriptor in message",
        )),
    }
}

/// Receives one message, with the fd it carries if any. An empty body with
/// no fd means the peer closed the connection.
pub fn recv_maybe_fd(sock: BorrowedFd<'_>) -> io::Result<(Option<OwnedFd>, Vec<u8>)> {
    let (fds, body) = recv_fds(sock)?;
    Ok((fds.into_iter().next(), body))
}

/// Receives one message with every fd it carries (up to [`MAX_FDS`]).
pub fn recv_fds(sock: BorrowedFd<'_>) -> io::Result<(Vec<OwnedFd>, Vec<u8>)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg_space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg_space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let len = msg.bytes;
    let mut received = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel just installed this fd in our table for us;
                // nobody else owns it.
                received.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    buf.truncate(len);
    Ok((received, buf))
}
