//! User namespaces for id-mapped mounts (runtime-spec 1.1
//! `mounts[].uidMappings`): a mount is id-mapped with mount_setattr(2)
//! `MOUNT_ATTR_IDMAP` and the descriptor of a user namespace whose maps
//! say how the ids on disk show through the mount. Such a namespace is
//! made by a short-lived child that unshares it; `create` (the host's
//! root) writes its maps and keeps a descriptor of it; the child is then
//! gone. One namespace per distinct pair of maps.

use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use oci_spec::runtime::LinuxIdMapping;

/// Maps as (containerID, hostID, size) triples.
type Maps = Vec<(u32, u32, u32)>;

fn triples(maps: &[LinuxIdMapping]) -> Maps {
    maps.iter()
        .map(|m| (m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// The user namespaces made so far, by their maps.
#[derive(Default)]
pub(crate) struct Namespaces {
    made: Vec<((Maps, Maps), OwnedFd)>,
}

impl Namespaces {
    /// A user namespace with these maps: `containerID` is the id on disk,
    /// `hostID` the one the mount shows.
    pub(crate) fn get(
        &mut self,
        uid: &[LinuxIdMapping],
        gid: &[LinuxIdMapping],
    ) -> io::Result<&OwnedFd> {
        let key = (triples(uid), triples(gid));
        let i = match self.made.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let fd = with_maps(&key.0, &key.1)?;
                self.made.push((key, fd));
                self.made.len() - 1
            }
        };
        Ok(&self.made[i].1)
    }
}

fn map_text(maps: &[(u32, u32, u32)]) -> String {
    let mut text = String::new();
    for (inside, outside, size) in maps {
        let _ = writeln!(text, "{inside} {outside} {size}");
    }
    text
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just made and belong to nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Makes the namespace: the child unshares it and says so on `ready`,
/// then waits for `done` to close; the maps are written from here.
fn with_maps(uid: &[(u32, u32, u32)], gid: &[(u32, u32, u32)]) -> io::Result<OwnedFd> {
    let (ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    // SAFETY: hull is single-threaded; the child only makes raw syscalls
    // (unshare, write, read, _exit) before it exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: raw syscalls on fds this process owns, then _exit. Its
        // copies of the parent's ends go first: `done` must reach EOF when
        // the parent closes its end.
        unsafe {
            libc::close(done_w.as_raw_fd());
            libc::close(ready_r.as_raw_fd());
            let ok: u8 = (libc::unshare(libc::CLONE_NEWUSER) == 0).into();
            libc::write(ready_w.as_raw_fd(), (&ok as *const u8).cast(), 1);
            let mut b = 0u8;
            libc::read(done_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop((ready_w, done_r));
    let result = (|| {
        let mut ok = 0u8;
        // SAFETY: reads one byte into a local.
        let n = unsafe { libc::read(ready_r.as_raw_fd(), (&mut ok as *mut u8).cast(), 1) };
        if n != 1 || ok != 1 {
            return Err(io::Error::other(
                "could not make a user namespace for an id-mapped mount",
            ));
        }
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uid))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gid))?;
        std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
    })();
    drop(done_w);
    // SAFETY: reaps our own child, which exits once `done` is closed.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn map_lines_are_inside_outside_size() {
        assert_eq!(
            super::map_text(&[(0, 100000, 65536), (100, 1, 3)]),
            "0 100000 65536\n100 1 3\n"
        );
    }
}
