//! `start`: tell a created container's init to exec the user program, and
//! learn whether it did (EOF on the start socket) or why not (a message).

use std::io::{Read, Write};

use crate::channel::{Channel, Message};
use crate::error::{Error, Result};
use crate::state_store::{Locked, Record, Store, START_SOCKET};
use crate::status::{self, Status};
use crate::unix_socket;

pub fn start(store: &Store, id: &str) -> Result<()> {
    let locked = store.open(id)?;
    let mut rec = locked
        .read()?
        .ok_or_else(|| Error::NotExist { id: id.into() })?;
    start_locked(&locked, &mut rec)
}

pub(crate) fn start_locked(locked: &Locked, rec: &mut Record) -> Result<()> {
    match status::status_of(rec) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::Other(
                "cannot start a container that has stopped".into(),
            ))
        }
        _ => {
            return Err(Error::Other(
                "cannot start an already running container".into(),
            ))
        }
    }
    let sock = locked.dir.join(START_SOCKET);
    let conn = unix_socket::connect(&sock, 3)?;
    let mut conn = std::fs::File::from(conn);
    let mut request = status::hook_state(rec, Status::Created);
    request.push('\n');
    conn.write_all(request.as_bytes())
        .map_err(|e| Error::sys("send start to the container init", e))?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .map_err(|e| Error::sys("wait for the container program to start", e))?;
    let _ = std::fs::remove_file(&sock);
    if !reply.is_empty() {
        return Err(Error::Init(reply));
    }
    mark_started(locked, rec)
}

/// `run`'s start: the init created with `start_now` waits on its setup
/// channel, so no start socket is made, connected or removed.
pub(crate) fn start_over_channel(chan: &Channel, locked: &Locked, rec: &mut Record) -> Result<()> {
    let state = status::hook_state(rec, Status::Created);
    chan.send(&Message::Start { state })?;
    match chan.recv()? {
        // The init execed: its end of the channel closed with the exec.
        None => {}
        Some(Message::Failed(why)) => return Err(Error::Init(why)),
        Some(other) => return Err(Error::Init(format!("unexpected message {other:?}"))),
    }
    mark_started(locked, rec)
}

/// Records the running container and runs the poststart hooks.
fn mark_started(locked: &Locked, rec: &mut Record) -> Result<()> {
    rec.ready = true;
    rec.started = true;
    locked.write(rec)?;
    if !rec.poststart.is_empty() {
        let state = status::hook_state(rec, Status::Running);
        // The spec: a failing poststart hook is logged, the remaining ones
        // still run, and the container lives on.
        for e in crate::hooks::run_every("poststart", &rec.poststart, &state) {
            crate::warn(&e.to_string());
        }
    }
    Ok(())
}
