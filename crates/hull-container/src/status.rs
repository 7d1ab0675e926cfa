//! The status of a container, derived from its record and the kernel, never
//! stored: a dead, zombie or reused PID is `stopped`, a frozen cgroup is
//! `paused`, an init that has not exec'd is `created`.

use serde::Serialize;

use crate::state_store::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

pub fn status_of(rec: &Record) -> Status {
    if rec.pid <= 0
        || hull_sys::liveness(rec.pid, rec.pid_start_time) == hull_sys::ProcessLiveness::Dead
    {
        return Status::Stopped;
    }
    if !rec.ready {
        return Status::Creating;
    }
    if !rec.started {
        return Status::Created;
    }
    if let Some(paths) = &rec.cgroup {
        let mgr = hull_cgroups::Manager::from_paths(paths.clone());
        if mgr.is_frozen().unwrap_or(false) {
            return Status::Paused;
        }
    }
    Status::Running
}

/// The state as `hull state` and `hull list` print it: the OCI fields plus
/// what runc adds (`rootfs`, `created`, `owner`), in runc's field order,
/// annotations sorted, `created` as Go prints times (no trailing zeros).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateView<'a> {
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: &'a std::path::Path,
    pub rootfs: &'a std::path::Path,
    pub created: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<&'a str, &'a str>,
    pub owner: &'a str,
}

pub const OCI_VERSION: &str = "1.2.1";

impl<'a> StateView<'a> {
    /// The view `state` prints, whose `owner` runc leaves empty.
    pub fn new(rec: &'a Record, status: Status) -> Self {
        StateView {
            oci_version: OCI_VERSION,
            id: &rec.id,
            pid: if status == Status::Stopped {
                0
            } else {
                rec.pid
            },
            status: status.as_str(),
            bundle: &rec.bundle,
            rootfs: &rec.rootfs,
            created: go_time(&rec.created),
            annotations: rec
                .annotations
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            owner: &rec.owner,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// An RFC 3339 time in UTC as Go's RFC3339Nano prints it: the fraction
/// without trailing zeros, and without the dot when nothing is left.
pub fn go_time(t: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = t
        .strip_suffix('Z')
        .and_then(|rest| rest.split_once('.'))
        .filter(|(_, frac)| frac.ends_with('0') && frac.bytes().all(|b| b.is_ascii_digit()))
        .map(|(secs, frac)| {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{frac}Z")
            }
        });
    trimmed.map_or(std::borrow::Cow::Borrowed(t), std::borrow::Cow::Owned)
}

/// The state given to hooks on stdin: the spec's state object.
pub fn hook_state(rec: &Record, status: Status) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct HookState<'a> {
        oci_version: &'static str,
        id: &'a str,
        status: &'static str,
        pid: i32,
        bundle: &'a std::path::Path,
        annotations: &'a std::collections::HashMap<String, String>,
    }
    serde_json::to_string(&HookState {
        oci_version: OCI_VERSION,
        id: &rec.id,
        status: status.as_str(),
        pid: rec.pid,
        bundle: &rec.bundle,
        annotations: &rec.annotations,
    })
    .unwrap_or_default()
}

/// Now as RFC 3339 with nanoseconds in UTC, as runc writes `created`.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// well-known arithmetic, written out from its description).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn created_prints_as_go_prints_times() {
        use super::go_time;
        assert_eq!(
            go_time("2026-12-03T12:11:07.164922466Z"),
            "2026-12-03T12:11:07.164922466Z"
        );
        assert_eq!(
            go_time("2026-12-03T12:11:07.164900000Z"),
            "2026-12-03T12:11:07.1649Z"
        );
        assert_eq!(
            go_time("2026-12-03T12:11:07.000000000Z"),
            "2026-12-03T12:11:07Z"
        );
        assert_eq!(go_time("2026-12-03T12:11:07Z"), "2026-12-03T12:11:07Z");
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            super::rfc3339(1_700_000_000, 5),
            "2023-11-14T22:13:20.000000005Z"
        );
        assert_eq!(
            super::rfc3339(951_782_400, 0),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
