//! `create` (and the first half of `run`): make every resource of the
//! container and leave the init waiting for `start`. On any failure the
//! guard removes what was made: init process, cgroup, state directory.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::channel::{self, Channel, Message};
use crate::config::{self, Bundle};
use crate::error::{Error, Result};
use crate::init::{self, namespaces, InitContext};
use crate::state_store::{Locked, Record, Store, START_SOCKET};
use crate::status::{self, Status};
use crate::unix_socket;

#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// `--pidfd-socket`: where a pidfd of the init is to be sent (parsed;
    /// not sent yet).
    pub pidfd_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    /// Foreground `run` with a terminal and no console socket: hull relays
    /// the terminal itself (the master comes back on `Created::tty_master`).
    pub relay_tty: bool,
    /// `run`: the init takes its `start` over the setup channel (returned in
    /// `Created::channel`) instead of a start socket, and the `created`
    /// record is not written: `run` writes the running one.
    pub start_now: bool,
}

/// A created container: its record, and the lock held on its directory.
pub struct Created {
    pub record: Record,
    pub locked: Locked,
    pub bundle: Bundle,
    /// Where the pty master arrives when `relay_tty` was asked.
    pub tty_receiver: Option<std::os::fd::OwnedFd>,
    /// With `start_now`: the channel to the waiting init.
    pub channel: Option<Channel>,
}

/// Undoes a half-made container unless disarmed.
struct Cleanup<'a> {
    locked: Option<Locked>,
    cgroup: Option<&'a hull_cgroups::Manager>,
    pid: Option<i32>,
    /// The rootfs and its mount ID before create, without a mount namespace.
    host_rootfs: Option<(PathBuf, u64)>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // SAFETY: kill and waitpid on our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if let Some((rootfs, before)) = &self.host_rootfs {
            let _ = hull_rootfs::unmount_host_rootfs(rootfs, *before);
        }
        if let Some(cg) = self.cgroup {
            let _ = cg.destroy();
        }
        if let Some(l) = self.locked.take() {
            let _ = l.remove();
        }
    }
}

pub fn create(store: &Store, opts: &CreateOptions) -> Result<Created> {
    crate::state_store::validate_id(&opts.id)?;
    let mut bundle = config::load_bundle(&opts.bundle)?;
    let preserve_fds = opts.preserve_fds + pass_listen_fds(&mut bundle.spec);
    let spec = &bundle.spec;
    // No `process` is fine for create (config.md: process is optional
    // there; runc refuses it): `start` then fails with "process: missing".
    // No mount namespace: the container shares the host's (as with runc);
    // its mounts go on a bind of the rootfs onto itself, which delete (or
    // the cleanup of a failed create) detaches. Note the rootfs's mount now.
    let host_rootfs_mount_id = if config::has_namespace(spec, LinuxNamespaceType::Mount) {
        None
    } else {
        Some(hull_rootfs::mount_id(&bundle.rootfs)?)
    };
    // Check namespace paths before making anything.
    let joins = namespaces::open_joins(spec)?;
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup = hull_cgroups::Manager::new(cgroups_path.as_deref(), &opts.id)?;
    let locked = store.create(&opts.id)?;
    let mut cleanup = Cleanup {
        locked: Some(locked),
        cgroup: None,
        pid: None,
        host_rootfs: None,
    };

    let mut record = Record {
        id: opts.id.clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: status::rfc3339_now(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        ready: false,
        started: false,
        cgroup: Some(cgroup.paths().clone()),
        own_pid_ns: config::new_namespace(spec, LinuxNamespaceType::Pid),
        host_rootfs_mount_id,
        use_systemd: opts.systemd_cgroup,
        poststart: spec
            .hooks()
            .as_ref()
            .and_then(|h| h.poststart().clone())
            .unwrap_or_default(),
        poststop: spec
            .hooks()
            .as_ref()
            .and_then(|h| h.poststop().clone())
            .unwrap_or_default(),
    };
    // A record before anything is made: `delete --force` of a `create`
    // killed half-way finds the cgroup (and, below, the init) from it.
    if let Some(l) = &cleanup.locked {
        l.write(&record)?;
    }
    cleanup.cgroup = Some(&cgroup);
    // The cgroup2 cgroup now, for the clone; the v1 ones while the init
    // makes its first mounts (talk_to_init).
    cgroup.create_unified()?;

    let min_fd = 3 + preserve_fds as i32;
    let dir = cleanup_dir(&cleanup);
    let start_listener = if opts.start_now {
        None
    } else {
        Some(unix_socket::listen(&dir.join(START_SOCKET), min_fd)?)
    };
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let mut tty_receiver = None;
    let console_socket = match &opts.console_socket {
        Some(p) if terminal => Some(unix_socket::connect(p, min_fd)?),
        None if terminal && opts.relay_tty => {
            let (ours, theirs) = crate::tty_relay::socket_pair(min_fd)?;
            tty_receiver = Some(ours);
            Some(theirs)
        }
        _ => None,
    };
    let (parent_end, child_end) = channel::pair(min_fd)?;
    // Id-mapped mounts, and bind sources the init of a new user namespace
    // may not reach: copies made now, as the host's root, go to the init
    // with the clone.
    let userns_join = joins.iter().find(|j| j.typ == LinuxNamespaceType::User);
    let bind_trees = hull_rootfs::detached_bind_sources(
        spec,
        &bundle.dir,
        &bundle.rootfs,
        config::new_namespace(spec, LinuxNamespaceType::User),
        userns_join.map(|j| j.fd.as_fd()),
    )?
    .into_iter()
    .map(|tree| {
        let tree = tree
            .map(|fd| crate::fds::move_above(fd, min_fd))
            .transpose()?;
        Ok(std::cell::Cell::new(tree))
    })
    .collect::<Result<Vec<_>>>()?;

    // Joining a PID namespace applies to children: do it here, before clone.
    for j in joins.iter().filter(|j| j.typ == LinuxNamespaceType::Pid) {
        namespaces::join(j)?;
    }
    let child_joins: Vec<_> = joins
        .into_iter()
        .filter(|j| j.typ != LinuxNamespaceType::Pid)
        .collect();
    let lock_fd = cleanup.locked.as_ref().map(|l| l.lock_fd());
    // Cloned into the cgroup2 cgroup; the child moves itself into the v1
    // ones, later (hull_cgroups::Placement says why the parent does not).
    let placement = cgroup.clone_placement();
    let args = hull_sys::CloneArgs {
        flags: namespaces::clone_flags(spec),
        cgroup_fd: placement.clone_into.as_ref().map(|fd| fd.as_raw_fd()),
    };
    // runc's words for this step, which its suite and scripts look for.
    crate::debug(|| {
        format!(
            "nsexec container setup: clone3 of the init, flags {:#x}",
            args.flags
        )
    });
    // SAFETY: hull is single-threaded (no thread is ever spawned), so the
    // fork-style child is a consistent copy of this process.
    let pid = unsafe { hull_sys::clone3_fork(args) }
        .map_err(|e| Error::sys("clone3 the container init", e))?;
    if pid == 0 {
        // If `create` dies during setup, so does the init: nothing is left
        // running that nobody knows about. Cleared once setup is done.
        // SAFETY: prctl on ourselves.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
        child_end.join_cgroup_or_exit(&placement, 1);
        if !config::new_namespace(spec, LinuxNamespaceType::User) {
            init::make_unreachable();
        }
        drop(parent_end);
        drop(tty_receiver);
        if let Some(fd) = lock_fd {
            // SAFETY: closing our copy of the lock fd; the parent keeps its
            // own (the lock lives with the parent's copy) and the child
            // never uses `cleanup` again (init::run does not return).
            unsafe { libc::close(fd) };
        }
        init::run(InitContext {
            bundle: &bundle,
            joins: child_joins,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds,
            console_socket,
            start_listener,
            channel: child_end,
            cgroup_mountinfo: cgroup.mountinfo(),
            bind_trees,
        });
    }
    cleanup.pid = Some(pid);
    cleanup.host_rootfs = host_rootfs_mount_id.map(|id| (bundle.rootfs.clone(), id));
    drop((
        child_end,
        start_listener,
        console_socket,
        child_joins,
        placement,
        bind_trees,
    ));

    record.pid = pid;
    // No state write here: until `create` is done, other commands wait for
    // its lock, and if it is killed the init dies with it (PDEATHSIG) and
    // `delete --force` empties the cgroup, which the first record names.
    talk_to_init(&parent_end, spec, &cgroup, &mut record)?;
    record.ready = true;
    let locked = cleanup
        .locked
        .take()
        .ok_or_else(|| Error::Other("lost lock".into()))?;
    // With `start_now` the lock stays held until `run` has started the
    // init and written the running record: nobody can see this one.
    let write = if opts.start_now {
        Ok(())
    } else {
        locked.write(&record)
    };
    let write = write.and_then(|()| match &opts.pid_file {
        Some(p) => write_pid_file(p, pid),
        None => Ok(()),
    });
    if let Err(e) = write {
        cleanup.locked = Some(locked);
        return Err(e);
    }
    cleanup.pid = None;
    cleanup.cgroup = None;
    cleanup.host_rootfs = None;
    Ok(Created {
        record,
        locked,
        bundle,
        tty_receiver,
        channel: opts.start_now.then_some(parent_end),
    })
}

fn cleanup_dir(c: &Cleanup) -> PathBuf {
    c.locked.as_ref().map(|l| l.dir.clone()).unwrap_or_default()
}

/// The parent's half of the setup conversation with the init. Only the id
/// maps come before `Go`. While the init makes its first mounts, `create`
/// makes the v1 cgroups and applies the resources, then sends the cgroups
/// to join (the init waits for them before its cgroup mounts and device
/// nodes: v1 device rules are written one by one, and a mknod must not fall
/// between a deny-all and the allows), then the seccomp filter (taken after
/// the mounts).
fn talk_to_init(
    chan: &Channel,
    spec: &Spec,
    cgroup: &hull_cgroups::Manager,
    record: &mut Record,
) -> Result<()> {
    if config::new_namespace(spec, LinuxNamespaceType::User) {
        if let Err(e) = namespaces::write_id_maps(record.pid, spec) {
            let _ = chan.send(&Message::Failed(format!("parent setup failed: {e}")));
            return Err(e);
        }
    }
    chan.send_go(Error::Init)?;
    let cgroups = (|| {
        cgroup.create_v1()?;
        if let Some(r) = crate::device_rules::resources_for_create(spec) {
            cgroup.apply(&r)?;
        }
        Ok::<_, Error>(cgroup.v1_tasks()?)
    })();
    let sent = cgroups
        .and_then(|tasks| {
            chan.send_v1_cgroups(&tasks)
                .map_err(|e| child_reason(chan).unwrap_or(e))
        })
        .and_then(|()| config::compile_seccomp(spec))
        .and_then(|c| {
            chan.send_seccomp(c.as_ref())
                .map_err(|e| child_reason(chan).unwrap_or(e))
        })
        .and_then(|()| {
            record.pid_start_time = hull_sys::process_start_time(record.pid)
                .map_err(|e| Error::sys("read the init's start time", e))?;
            Ok(())
        });
    if let Err(e) = sent {
        let _ = chan.send(&Message::Failed(e.to_string()));
        return Err(e);
    }
    loop {
        let Some((msg, fd)) = chan.recv_with_fd()? else {
            return Err(Error::Init("the container init exited during setup".into()));
        };
        match msg {
            Message::Created => return Ok(()),
            Message::SeccompListener => {
                let fd = fd.ok_or_else(|| Error::Init("seccomp listener fd missing".into()))?;
                crate::seccomp_notify::hand_over(spec, record, fd)?;
            }
            Message::RunCreateHooks => {
                // runtime.md: "created" is the status after lifecycle step
                // 2 (the environment is made); these hooks are steps 3-5.
                let state = status::hook_state(record, Status::Created);
                let hooks = spec.hooks().as_ref();
                let result = hooks
                    .and_then(|h| h.prestart().as_ref())
                    .map_or(Ok(()), |h| crate::hooks::run_all("prestart", h, &state))
                    .and_then(|()| {
                        hooks
                            .and_then(|h| h.create_runtime().as_ref())
                            .map_or(Ok(()), |h| {
                                crate::hooks::run_all("createRuntime", h, &state)
                            })
                    });
                match result {
                    Ok(()) => chan.send(&Message::HooksDone { state })?,
                    Err(e) => {
                        let _ = chan.send(&Message::Failed(e.to_string()));
                        return Err(e);
                    }
                }
            }
            Message::Failed(why) => return Err(Error::Other(why)),
            other => return Err(Error::Init(format!("unexpected message {other:?}"))),
        }
    }
}

/// The reason a child that failed and closed its end left in the channel,
/// as the error the setup loop below gives for it.
fn child_reason(chan: &Channel) -> Option<Error> {
    match chan.recv_with_fd() {
        Ok(Some((Message::Failed(why), _))) => Some(Error::Other(why)),
        _ => None,
    }
}

/// Writes the pid file atomically, as runc does (containerd reads it).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// systemd socket activation, as runc does it: when hull was started with
/// `LISTEN_FDS=N` for its own PID, fds 3..3+N go to the container process,
/// which gets `LISTEN_FDS=N` and `LISTEN_PID=1`. Returns N.
fn pass_listen_fds(spec: &mut Spec) -> u32 {
    let n: u32 = match std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) if n > 0 => n,
        _ => return 0,
    };
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_none_or(|p| p == std::process::id());
    if !for_us {
        return 0;
    }
    if let Some(process) = spec.process_mut().as_mut() {
        let mut env = process.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
        process.set_env(Some(env));
    }
    n
}
