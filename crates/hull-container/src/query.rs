//! `state` and `list`.

use crate::error::{Error, Result};
use crate::state_store::{Record, Store};
use crate::status::{self, StateView, Status};

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
