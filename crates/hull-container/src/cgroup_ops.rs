//! Commands that act on a container's cgroup: `pause`, `resume`, `ps`,
//! `update`, `events`.

use std::io::Write;

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
        Status::Paused => Err(Error::Other("container already paused".into())),
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

/// One `events --stats` object, shaped like runc's.
pub fn stats_event(store: &Store, id: &str) -> Result<String> {
    let (_l, rec, st) = open(store, id)?;
    if st == Status::Stopped {
        return Err(Error::NotRunning { id: id.into() });
    }
    let stats = manager(&rec)?.stats()?;
    let ev = serde_json::json!({ "type": "stats", "id": id, "data": stats });
    Ok(ev.to_string())
}

/// `events`: a stats event every `interval`, and an `oom` event whenever the
/// cgroup's OOM kill count grows, until the container stops.
pub fn events(store: &Store, id: &str, interval: std::time::Duration) -> Result<()> {
    let mut out = std::io::stdout();
    let mut last_oom = None;
    loop {
        let (locked, rec, st) = open(store, id)?;
        drop(locked);
        if st == Status::Stopped {
            return Ok(());
        }
        let mgr = manager(&rec)?;
        let ooms = mgr.oom_kills().unwrap_or(0);
        if last_oom.is_some_and(|n| ooms > n) {
            let ev = serde_json::json!({ "type": "oom", "id": id });
            let _ = writeln!(out, "{ev}");
        }
        last_oom = Some(ooms);
        if let Ok(stats) = mgr.stats() {
            let ev = serde_json::json!({ "type": "stats", "id": id, "data": stats });
            let _ = writeln!(out, "{ev}");
        }
        let _ = out.flush();
        std::thread::sleep(interval);
    }
}
