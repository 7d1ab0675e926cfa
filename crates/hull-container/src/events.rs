//! `events`: the container's statistics every interval and an event for
//! every OOM kill, one JSON object per line as runc prints them:
//! `{"type":"stats","id":"…","data":{…}}` and `{"type":"oom","id":"…"}`,
//! keys in that order (clients match on the prefix).

use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::state_store::Store;
use crate::status::{self, Status};

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a hull_cgroups::Stats>,
}

fn line(kind: &'static str, id: &str, data: Option<&hull_cgroups::Stats>) -> String {
    serde_json::to_string(&Event { kind, id, data }).unwrap_or_default()
}

/// How often OOM kills and the container's end are looked for between two
/// statistics events.
const POLL: Duration = Duration::from_millis(200);

/// The cgroup manager of a container that is not stopped.
fn running_manager(store: &Store, id: &str) -> Result<hull_cgroups::Manager> {
    let locked = store.open(id)?;
    let rec = locked
        .read()?
        .ok_or_else(|| Error::NotExist { id: id.into() })?;
    drop(locked);
    if status::status_of(&rec) == Status::Stopped {
        return Err(Error::Other(format!(
            "container with id {id} is not running"
        )));
    }
    rec.cgroup
        .map(hull_cgroups::Manager::from_paths)
        .ok_or_else(|| Error::Other(format!("container {id} has no cgroup")))
}

/// `events --stats`: one stats event.
pub fn stats_event(store: &Store, id: &str) -> Result<String> {
    let stats = running_manager(store, id)?.stats()?;
    Ok(line("stats", id, Some(&stats)))
}

/// `events`: a stats event every `interval` (the first after one interval,
/// as runc), an oom event whenever the cgroup's OOM kill count grows, until
/// the container stops or is deleted, or `out` is closed.
pub fn events(store: &Store, id: &str, interval: Duration, out: &mut impl Write) -> Result<()> {
    // runc's order of checks: the container, the interval, its status.
    if store.open(id)?.read()?.is_none() {
        return Err(Error::NotExist { id: id.into() });
    }
    if interval.is_zero() {
        return Err(Error::Other(
            "duration interval must be greater than 0".into(),
        ));
    }
    let mgr = running_manager(store, id)?;
    let mut ooms = mgr.oom_kills().unwrap_or(0);
    let mut next_stats = Instant::now() + interval;
    loop {
        let now = Instant::now();
        std::thread::sleep(next_stats.saturating_duration_since(now).min(POLL));
        match running_manager(store, id) {
            Ok(_) => {}
            Err(e @ (Error::NotExist { .. } | Error::Other(_))) => {
                crate::debug(|| format!("events: {e}"));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let mut text = String::new();
        let count = mgr.oom_kills().unwrap_or(ooms);
        if count > ooms {
            text.push_str(&line("oom", id, None));
            text.push('\n');
        }
        ooms = count;
        if Instant::now() >= next_stats {
            next_stats += interval;
            // A cgroup read that fails (the container ending) is skipped,
            // as runc logs it and goes on.
            if let Ok(stats) = mgr.stats() {
                text.push_str(&line("stats", id, Some(&stats)));
                text.push('\n');
            }
        }
        if !text.is_empty()
            && out
                .write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
        {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn events_have_type_then_id_then_data() {
        let stats = hull_cgroups::Stats::default();
        assert!(line("stats", "c1", Some(&stats))
            .starts_with("{\"type\":\"stats\",\"id\":\"c1\",\"data\":{\"cpu\":"));
        assert_eq!(line("oom", "c1", None), "{\"type\":\"oom\",\"id\":\"c1\"}");
    }
}
