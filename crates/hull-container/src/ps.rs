//! `ps`: the processes of a container, as runc shows them: the lines of
//! ps(1) (`-ef` unless other options are given) whose PID is in the
//! container's cgroup, under ps's own header; or, with `--format json`, the
//! bare array of their host PIDs (`null` when there are none).

use crate::error::{Error, Result};
use crate::state_store::Store;

/// The text `ps` prints, final newline included.
pub fn ps(store: &Store, id: &str, format: &str, ps_args: &[String]) -> Result<String> {
    let pids = crate::cgroup_ops::pids(store, id)?;
    match format {
        "json" => Ok(json(&pids)),
        "table" => table(&pids, ps_args),
        _ => Err(Error::Other("invalid format option".into())),
    }
}

fn json(pids: &[i32]) -> String {
    if pids.is_empty() {
        return "null\n".into();
    }
    let mut text = serde_json::to_string(pids).unwrap_or_default();
    text.push('\n');
    text
}

fn table(pids: &[i32], ps_args: &[String]) -> Result<String> {
    let default = ["-ef".to_string()];
    let args = if ps_args.is_empty() {
        &default[..]
    } else {
        ps_args
    };
    let out = std::process::Command::new("ps")
        .args(args)
        .output()
        .map_err(|e| Error::sys("run ps", e))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(Error::Other(format!(
            "ps: {}: {}",
            out.status,
            text.trim_end()
        )));
    }
    filter(&text, pids)
}

/// The header and the lines whose PID column holds one of `pids`.
fn filter(ps_output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = ps_output.lines();
    let header = lines.next().unwrap_or("");
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::Other("couldn't find PID field in ps output".into()))?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(pid_col).unwrap_or("");
        let pid: i32 = field
            .parse()
            .map_err(|_| Error::Other(format!("unable to parse pid: {field:?}")))?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keeps_the_header_and_the_containers_lines() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 42 sh\n";
        assert_eq!(
            filter(text, &[42, 43]).expect("filter"),
            "UID PID PPID CMD\nroot 42 1 sleep\nroot 43 42 sh\n"
        );
        assert!(filter("USER CMD\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn json_is_a_bare_array_or_null() {
        assert_eq!(json(&[5, 6]), "[5,6]\n");
        assert_eq!(json(&[]), "null\n");
    }
}
