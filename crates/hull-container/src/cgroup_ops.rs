//! Commands that act on a container's cgroup: `pause`, `resume`, `ps`,
//! `update` (`events` is in events.rs).

use oci_spec::runtime::LinuxResources;

use crate::error::{Error, Result};
use crate::state_store::{Record, Store};
use crate::status::{self, Status};

fn open(store: &Store, id: &str) -> Result<(crate::state_store::Locked, Record, Status)> {
    let locked = store.open(id)?;
    let rec = locked
        .read()?
        .ok_or_else(|| Error::NotExist { id: id.into() })?;
    let st = status::status_of(&rec);
    Ok((locked, rec, st))
}

fn manager(rec: &Record) -> Result<hull_cgroups::Manager> {
    rec.cgroup
        .as_ref()
        .map(|p| hull_cgroups::Manager::from_paths(p.clone()))
        .ok_or_else(|| Error::Other(format!("container {} has no cgroup", rec.id)))
}

pub fn pause(store: &Store, id: &str) -> Result<()> {
    let (_l, rec, st) = open(store, id)?;
    match st {
        Status::Running | Status::Created => Ok(manager(&rec)?.freeze()?),
        // runc's answer for a paused container too.
        _ => Err(Error::NotRunning { id: id.into() }),
    }
}

pub fn resume(store: &Store, id: &str) -> Result<()> {
    let (_l, rec, st) = open(store, id)?;
    match st {
        Status::Paused => Ok(manager(&rec)?.thaw()?),
        _ => Err(Error::Other("container not paused".into())),
    }
}

/// Host PIDs of every process in the container's cgroup.
pub fn pids(store: &Store, id: &str) -> Result<Vec<i32>> {
    let (_l, rec, st) = open(store, id)?;
    if st == Status::Stopped {
        return Ok(Vec::new());
    }
    Ok(manager(&rec)?.pids()?)
}

/// `update`: new limits for a running container.
pub fn update(store: &Store, id: &str, resources: &LinuxResources) -> Result<()> {
    let (_l, rec, st) = open(store, id)?;
    if st == Status::Stopped {
        return Err(Error::NotRunning { id: id.into() });
    }
    Ok(manager(&rec)?.apply(resources)?)
}
