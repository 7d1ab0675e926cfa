//! Reading one process's start time from `/proc/<pid>/stat`: with the PID it
//! identifies a process across PID reuse, without scanning `/proc`.

use std::io;

/// What `/proc/<pid>/stat` says about a process we started earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessLiveness {
    /// The PID exists, is not a zombie, and has the recorded start time.
    Alive,
    /// Gone, a zombie, or the PID now belongs to another process.
    Dead,
}

/// Start time of `pid` in clock ticks since boot (field 22 of stat).
pub fn process_start_time(pid: i32) -> io::Result<u64> {
    let (_, start) = read_stat(pid)?;
    Ok(start)
}

/// Whether `pid` is still the process that started at `start_time`.
pub fn liveness(pid: i32, start_time: u64) -> ProcessLiveness {
    match read_stat(pid) {
        Ok((state, start)) if start == start_time && state != b'Z' && state != b'X' => {
            ProcessLiveness::Alive
        }
        _ => ProcessLiveness::Dead,
    }
}

fn read_stat(pid: i32) -> io::Result<(u8, u64)> {
    let data = std::fs::read(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: parse after
    // the last ')'.
    let close = data
        .iter()
        .rposition(|&b| b == b')')
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))?;
    let rest = std::str::from_utf8(&data[close + 1..])
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields
        .next()
        .and_then(|s| s.bytes().next())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))?;
    // After the state (field 3), field 22 is the 19th.
    let start = fields
        .nth(18)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))?;
    Ok((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_with_its_start_time() {
        let pid = std::process::id() as i32;
        let start = process_start_time(pid).expect("stat of self");
        assert_eq!(liveness(pid, start), ProcessLiveness::Alive);
        assert_eq!(liveness(pid, start + 1), ProcessLiveness::Dead);
    }
}
