//! `delete`: remove everything `create` made. A created or stopped container
//! goes without `--force` (as with runc and crun; Kubernetes relies on it:
//! youki refused it and broke Kubernetes node tests); a running or paused
//! one needs `--force`. runtime.md would have a created container
//! refused too; runtime-tools' `delete` test fails here, as with runc. A
//! half-made container (no state.json) is removed too.

use crate::error::{Error, Result};
use crate::kill;
use crate::state_store::{Locked, Record, Store};
use crate::status::{self, Status};

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let locked = match store.open(id) {
        Ok(l) => l,
        Err(Error::NotExist { .. }) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(rec) = locked.read()? else {
        // create died before writing its state: nothing else to find.
        locked.remove()?;
        return if force {
            Ok(())
        } else {
            Err(Error::NotExist { id: id.into() })
        };
    };
    let st = status::status_of(&rec);
    if matches!(st, Status::Running | Status::Paused | Status::Creating) && !force {
        return Err(Error::Other(format!(
            "cannot delete container {id} that is not stopped: {}",
            st.as_str()
        )));
    }
    destroy(locked, &rec, st)
}

/// Kills what is left, removes the cgroup, runs poststop hooks, removes
/// the state directory.
pub(crate) fn destroy(locked: Locked, rec: &Record, st: Status) -> Result<()> {
    let cgroup = rec
        .cgroup
        .as_ref()
        .map(|p| hull_cgroups::Manager::from_paths(p.clone()));
    if st != Status::Stopped {
        if let Some(fd) = kill::open_init(rec) {
            if st == Status::Paused {
                if let Some(cg) = &cgroup {
                    let _ = cg.thaw();
                }
            }
            let _ = kill::signal_init(rec, libc::SIGKILL);
            kill::wait_exit(&fd, 5000);
        }
    }
    if let Some(before) = rec.host_rootfs_mount_id {
        // No mount namespace: the container's mounts are the host's.
        hull_rootfs::unmount_host_rootfs(&rec.rootfs, before)?;
    }
    if let Some(cg) = &cgroup {
        // Without its own PID namespace, the init's children outlive it.
        cg.destroy()?;
    }
    if !rec.poststop.is_empty() {
        let state = status::hook_state(rec, Status::Stopped);
        // Like poststart: every poststop hook runs; failures are logged.
        for e in crate::hooks::run_every("poststop", &rec.poststop, &state) {
            crate::warn(&e.to_string());
        }
    }
    locked.remove()
}
