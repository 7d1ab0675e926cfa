//! Typed messages between `hull create` and the container's init process,
//! one JSON object per packet over a `SOCK_SEQPACKET` socketpair.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Parent -> init: id mappings written (user namespace); go on.
    Go,
    /// Parent -> init, after `Go`, with one fd per path attached: the `tasks`
    /// files of the container's v1 cgroups, made while the init makes its
    /// first mounts. The init joins them before its cgroup namespace and
    /// its cgroup mounts.
    JoinCgroups { tasks: Vec<std::path::PathBuf> },
    /// Parent -> init, after `JoinCgroups`: the compiled `linux.seccomp`, its
    /// instructions in the next packet (see [`Channel::send_seccomp`]).
    Seccomp {
        flags: libc::c_ulong,
        notify: bool,
        warnings: Vec<String>,
    },
    /// Parent -> init, after `JoinCgroups`: the config has no seccomp filter.
    NoSeccomp,
    /// Init -> parent: the mounts are done; run prestart and createRuntime
    /// hooks now, before pivot_root.
    RunCreateHooks,
    /// Parent -> init: hooks ran; here is the state for createContainer hooks.
    HooksDone { state: String },
    /// Init -> parent: everything is set up; waiting for `start`.
    Created,
    /// Parent -> init, for `run` only: start now, with the state the
    /// startContainer hooks get. The init answers `Failed`, or closes the
    /// channel when it execs (the fd is close-on-exec).
    Start { state: String },
    /// Init -> parent, with the listener fd attached: the seccomp filter has
    /// SCMP_ACT_NOTIFY rules; hand the fd to `linux.seccomp.listenerPath`.
    SeccompListener,
    /// Either way: setup failed, with the reason.
    Failed(String),
}

pub struct Channel {
    fd: OwnedFd,
}

/// Creates the two ends: (parent's, child's).
pub fn pair(min_fd: i32) -> Result<(Channel, Channel)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into the array we pass.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(Error::sys("socketpair", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((
        Channel {
            fd: crate::fds::move_above(a, min_fd)?,
        },
        Channel {
            fd: crate::fds::move_above(b, min_fd)?,
        },
    ))
}

impl Channel {
    pub fn send(&self, msg: &Message) -> Result<()> {
        let data = serde_json::to_vec(msg).map_err(|e| Error::Other(e.to_string()))?;
        self.send_bytes(&data)
    }

    /// Parent side: sends `Go`. A child that failed before it read `Go`
    /// (joining its cgroup) has left its reason in the socket and gone, so
    /// the send fails: that reason, through `failed`, is then the error.
    pub fn send_go(&self, failed: impl FnOnce(String) -> Error) -> Result<()> {
        let Err(e) = self.send(&Message::Go) else {
            return Ok(());
        };
        match self.recv_with_fd() {
            Ok(Some((Message::Failed(why), _))) => Err(failed(why)),
            _ => Err(e),
        }
    }

    /// Child side, first thing after the clone: joins the v1 cgroups of
    /// `placement`; on failure tells the parent why and exits with `status`.
    pub fn join_cgroup_or_exit(&self, placement: &hull_cgroups::Placement, status: i32) {
        if let Err(e) = placement.join_v1() {
            let _ = self.send(&Message::Failed(format!(
                "join the container's cgroup: {e}"
            )));
            // SAFETY: a forked child leaves without running the parent's cleanup.
            unsafe { libc::_exit(status) };
        }
    }

    /// Parent side: the v1 cgroups to join (see `Message::JoinCgroups`).
    pub fn send_v1_cgroups(&self, tasks: &[(std::path::PathBuf, OwnedFd)]) -> Result<()> {
        let msg = Message::JoinCgroups {
            tasks: tasks.iter().map(|(p, _)| p.clone()).collect(),
        };
        let fds: Vec<_> = tasks.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
        self.send_with_fds(&msg, &fds)
    }

    /// Init side: what `send_v1_cgroups` sent, ready to join; a `Failed`
    /// from the parent (making the cgroups failed) becomes the error.
    pub fn recv_v1_cgroups(&self) -> Result<hull_cgroups::Placement> {
        match self.recv_with_fds()? {
            Some((Message::JoinCgroups { tasks }, fds)) if tasks.len() == fds.len() => Ok(
                hull_cgroups::Placement::from_v1_tasks(tasks.into_iter().zip(fds).collect()),
            ),
            Some((Message::Failed(why), _)) => Err(Error::Init(why)),
            other => Err(Error::Init(format!(
                "unexpected message {:?}",
                other.map(|(m, _)| m)
            ))),
        }
    }

    /// Parent side: the compiled filter, or that there is none. The parent
    /// compiles it after the clone, while the init makes its mounts, and
    /// the init takes it once they are done (`recv_seccomp`).
    pub fn send_seccomp(&self, compiled: Option<&hull_seccomp::Compiled>) -> Result<()> {
        let Some(c) = compiled else {
            return self.send(&Message::NoSeccomp);
        };
        self.send(&Message::Seccomp {
            flags: c.flags,
            notify: c.notify,
            warnings: c.warnings.clone(),
        })?;
        self.send_bytes(&c.program.to_bytes())
    }

    /// Init side: what `send_seccomp` sent; a `Failed` from the parent (the
    /// profile did not compile) becomes the error.
    pub fn recv_seccomp(&self) -> Result<Option<hull_seccomp::Compiled>> {
        let (flags, notify, warnings) = match self.recv()? {
            Some(Message::Seccomp {
                flags,
                notify,
                warnings,
            }) => (flags, notify, warnings),
            Some(Message::NoSeccomp) => return Ok(None),
            Some(Message::Failed(why)) => return Err(Error::Init(why)),
            other => return Err(Error::Init(format!("unexpected message {other:?}"))),
        };
        let bytes = self.recv_bytes()?;
        let program = hull_seccomp::Program::from_bytes(&bytes)
            .ok_or_else(|| Error::Init("bad seccomp program from create".into()))?;
        Ok(Some(hull_seccomp::Compiled {
            program,
            flags,
            notify,
            warnings,
        }))
    }

    fn send_bytes(&self, data: &[u8]) -> Result<()> {
        // SAFETY: sends `data.len()` bytes from a live buffer.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(Error::sys(
                "send to container init",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// One packet as it came; empty at EOF.
    fn recv_bytes(&self) -> Result<Vec<u8>> {
        // Room for any packet, left uninitialised: zeroing 64 KiB on every
        // message cost 16 page faults in a fresh child.
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let (ptr, cap) = (buf.as_mut_ptr(), buf.capacity());
        let n = hull_sys::recv_queued(|| {
            // SAFETY: receives at most `cap` bytes into the buffer's
            // allocation.
            unsafe { libc::recv(self.fd.as_raw_fd(), ptr.cast(), cap, 0) }
        })
        .map_err(|e| Error::sys("receive from container init", e))?;
        // SAFETY: the kernel wrote the first `n` bytes, and n <= capacity.
        unsafe { buf.set_len(n) };
        Ok(buf)
    }

    /// Sends `msg` with `fd` attached.
    pub fn send_with_fd(&self, msg: &Message, fd: std::os::fd::RawFd) -> Result<()> {
        self.send_with_fds(msg, &[fd])
    }

    fn send_with_fds(&self, msg: &Message, fds: &[std::os::fd::RawFd]) -> Result<()> {
        let data = serde_json::to_vec(msg).map_err(|e| Error::Other(e.to_string()))?;
        hull_sys::send_fds(self.fd.as_fd(), &data, fds)
            .map_err(|e| Error::sys("send fds to the other end", e))
    }

    /// Receives one message and the fd it may carry; `None` at EOF.
    pub fn recv_with_fd(&self) -> Result<Option<(Message, Option<OwnedFd>)>> {
        Ok(self
            .recv_with_fds()?
            .map(|(msg, fds)| (msg, fds.into_iter().next())))
    }

    /// Receives one message and every fd it carries; `None` at EOF.
    fn recv_with_fds(&self) -> Result<Option<(Message, Vec<OwnedFd>)>> {
        let (fds, body) = hull_sys::recv_fds(self.fd.as_fd())
            .map_err(|e| Error::sys("receive from container init", e))?;
        if body.is_empty() && fds.is_empty() {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&body)
            .map_err(|e| Error::Other(format!("bad message from container init: {e}")))?;
        Ok(Some((msg, fds)))
    }

    /// Receives one message; `None` when the other end closed.
    pub fn recv(&self) -> Result<Option<Message>> {
        let buf = self.recv_bytes()?;
        if buf.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&buf)
            .map(Some)
            .map_err(|e| Error::Other(format!("bad message from container init: {e}")))
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An init that fails before it reads what `create` sent closes its end
    /// on unread packets; its reason must still reach `create` (CI once saw
    /// "connection reset by peer" instead), through either receive path.
    #[test]
    fn the_reason_of_an_init_that_failed_survives_its_unread_packets() {
        for with_fds in [false, true] {
            let (parent, child) = pair(3).expect("socketpair");
            child
                .send(&Message::Failed("mount /x: no such device".into()))
                .expect("child sends its reason");
            parent.send(&Message::Go).expect("parent sends");
            parent.send(&Message::NoSeccomp).expect("parent sends more");
            drop(child);
            let got = if with_fds {
                parent.recv_with_fd().expect("recv_with_fd").map(|(m, _)| m)
            } else {
                parent.recv().expect("recv")
            };
            assert!(
                matches!(&got, Some(Message::Failed(why)) if why.contains("/x")),
                "got {got:?}"
            );
            assert!(parent.recv().expect("EOF after the reason").is_none());
        }
    }
}
