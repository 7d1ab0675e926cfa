//! `state` and `list`, printed as runc prints them.

use std::os::unix::fs::MetadataExt;

use crate::error::{Error, Result};
use crate::state_store::{Record, Store};
use crate::status::{self, StateView, Status};

/// `state`: indented JSON, without a final newline (runc writes none).
pub fn state(store: &Store, id: &str) -> Result<String> {
    let locked = store.open(id)?;
    let rec = locked
        .read()?
        .ok_or_else(|| Error::NotExist { id: id.into() })?;
    let st = status::status_of(&rec);
    Ok(serde_json::to_string_pretty(&StateView::new(&rec, st)).unwrap_or_default())
}

/// Every container with its status; half-made ones are skipped.
pub fn list(store: &Store) -> Result<Vec<(Record, Status)>> {
    let mut out = Vec::new();
    for id in store.list()? {
        let Ok(locked) = store.open(&id) else {
            continue;
        };
        if let Ok(Some(rec)) = locked.read() {
            let st = status::status_of(&rec);
            out.push((rec, st));
        }
    }
    Ok(out)
}

/// `list`: the IDs (`quiet`), a table (`table`, columns as runc aligns
/// them) or a JSON array (`json`; `null` when there is no container). The
/// owner is the user owning the container's state directory.
pub fn list_text(store: &Store, format: &str, quiet: bool) -> Result<String> {
    let all = list(store)?;
    if quiet {
        return Ok(all.iter().map(|(r, _)| format!("{}\n", r.id)).collect());
    }
    let owners: Vec<String> = all.iter().map(|(r, _)| owner(store, &r.id)).collect();
    let views: Vec<StateView> = all
        .iter()
        .zip(&owners)
        .map(|((r, s), o)| StateView {
            owner: o,
            ..StateView::new(r, *s)
        })
        .collect();
    match format {
        "table" => {
            let mut t = String::from("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n");
            for v in &views {
                t.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    v.id,
                    v.pid,
                    v.status,
                    v.bundle.display(),
                    v.created,
                    v.owner
                ));
            }
            Ok(crate::text_table::tabwrite(&t, 12, 3))
        }
        "json" if views.is_empty() => Ok("null\n".into()),
        "json" => Ok(format!(
            "{}\n",
            serde_json::to_string(&views).unwrap_or_default()
        )),
        _ => Err(Error::Other("invalid format option".into())),
    }
}

/// The name of the user owning `<root>/<id>`, or `#uid` when it has none.
fn owner(store: &Store, id: &str) -> String {
    let Ok(meta) = std::fs::metadata(store.root().join(id)) else {
        return String::new();
    };
    let uid = meta.uid();
    user_name(uid).unwrap_or_else(|| format!("#{uid}"))
}

/// The first /etc/passwd entry with this uid.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd_name(&passwd, uid)
}

fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::passwd_name;

    #[test]
    fn owner_names_come_from_passwd() {
        let p = "root:x:0:0:root:/root:/bin/sh\nbad line\nalice:x:1000:1000::/home/a:/bin/sh\n";
        assert_eq!(passwd_name(p, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(p, 1000).as_deref(), Some("alice"));
        assert_eq!(passwd_name(p, 5), None);
    }
}
