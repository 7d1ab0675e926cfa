//! `exec`: run another process in a running container. It joins every
//! namespace of the container (user first), its cgroup, and goes through
//! the same process setup as the init (capabilities, user, seccomp,
//! no_new_privs), then execs; `exec` learns of success by EOF on its
//! channel, or gets the reason of the failure.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{Capability, Process, Spec};

use crate::channel::{self, Message};
use crate::config;
use crate::error::{Error, Result};
use crate::init;
use crate::state_store::Store;
use crate::status::{self, Status};
use crate::unix_socket;

#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub id: String,
    /// `--process FILE`: the whole process as JSON; flags below are then ignored.
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub tty: bool,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    /// `uid[:gid]`
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub console_socket: Option<PathBuf>,
    /// `--pidfd-socket`: where a pidfd of the new process is to be sent
    /// (parsed; not sent yet).
    pub pidfd_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
}

/// Namespaces in the order they are joined: user first, mount before the
/// rest so later `path`s resolve inside the container.
const NAMESPACES: &[(&str, libc::c_int)] = &[
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("net", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
];

pub fn exec(store: &Store, opts: &ExecOptions) -> Result<i32> {
    let locked = store.open(&opts.id)?;
    let rec = locked.read()?.ok_or_else(|| Error::NotExist {
        id: opts.id.clone(),
    })?;
    match status::status_of(&rec) {
        Status::Stopped => return Err(Error::Other("cannot exec in a stopped container".into())),
        Status::Paused if !opts.ignore_paused => {
            return Err(Error::Other(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        _ => {}
    }
    let spec = load_spec(&rec.bundle)?;
    let seccomp = config::compile_seccomp(&spec)?;
    let process = build_process(&spec, opts)?;
    let init_fd = crate::kill::open_init(&rec).ok_or_else(|| Error::NotRunning {
        id: opts.id.clone(),
    })?;

    let joins = open_container_namespaces(rec.pid)?;
    // Without a mount namespace of its own the container is chrooted in the
    // host's: setns cannot put us there, chroot to the init's root does.
    let root = match rec.host_rootfs_mount_id {
        Some(_) if !joins.iter().any(|(f, _)| *f == libc::CLONE_NEWNS) => {
            let path = format!("/proc/{}/root", rec.pid);
            let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            Some(OwnedFd::from(f))
        }
        _ => None,
    };
    // Still the same init? Then the namespace fds are the container's.
    drop(init_fd);
    let min_fd = 3 + opts.preserve_fds as i32;
    let mut tty_receiver = None;
    let console = match (&opts.console_socket, process.terminal().unwrap_or(false)) {
        (Some(p), true) => Some(unix_socket::connect(p, min_fd)?),
        (None, true) if !opts.detach => {
            let (ours, theirs) = crate::tty_relay::socket_pair(min_fd)?;
            tty_receiver = Some(ours);
            Some(theirs)
        }
        _ => None,
    };
    let cgroup = rec
        .cgroup
        .as_ref()
        .map(|p| hull_cgroups::Manager::from_paths(p.clone()));
    let (parent_end, child_end) = channel::pair(min_fd)?;
    let set = crate::run::blocked_set();
    if !opts.detach {
        // SAFETY: changing our own signal mask; the child resets it.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    }
    // A PID namespace applies to children: join it before clone.
    if let Some((_, fd)) = joins.iter().find(|(f, _)| *f == libc::CLONE_NEWPID) {
        setns(fd, libc::CLONE_NEWPID, "pid")?;
    }
    // As at create: cloned into the cgroup2 cgroup, and the child moves
    // itself into the v1 ones.
    let placement = cgroup.as_ref().map(|c| c.placement()).transpose()?;
    let args = hull_sys::CloneArgs {
        flags: 0,
        cgroup_fd: placement
            .as_ref()
            .and_then(|p| p.clone_into.as_ref())
            .map(|fd| fd.as_raw_fd()),
    };
    let lock_fd = locked.lock_fd();
    crate::debug(|| {
        format!(
            "nsexec container setup: clone3 of the exec process into the namespaces of {}",
            rec.pid
        )
    });
    // SAFETY: hull is single-threaded, so the fork-style child is a
    // consistent copy of this process.
    let pid = unsafe { hull_sys::clone3_fork(args) }
        .map_err(|e| Error::sys("clone3 the exec process", e))?;
    if pid == 0 {
        if !joins.iter().any(|(f, _)| *f == libc::CLONE_NEWUSER) {
            init::make_unreachable();
        }
        drop(parent_end);
        drop(tty_receiver);
        // SAFETY: closing the child's copy of the lock fd; the parent keeps its own.
        unsafe { libc::close(lock_fd) };
        if let Some(p) = &placement {
            child_end.join_cgroup_or_exit(p, 127);
        }
        let err = child(ChildSetup {
            spec: &spec,
            seccomp: seccomp.as_ref(),
            process: &process,
            joins: &joins,
            root: root.as_ref(),
            console: console.as_ref(),
            chan: &child_end,
            preserve_fds: opts.preserve_fds,
        });
        let _ = child_end.send(&Message::Failed(err.to_string()));
        // SAFETY: a forked child leaves without running the parent's cleanup.
        unsafe { libc::_exit(127) };
    }
    drop((child_end, console, placement, root));
    let started = (|| {
        parent_end.send_go(Error::Other)?;
        loop {
            match parent_end.recv_with_fd()? {
                None => return Ok(()),
                Some((Message::SeccompListener, Some(fd))) => {
                    crate::seccomp_notify::hand_over(&spec, &rec, fd)?
                }
                Some((Message::Failed(why), _)) => return Err(Error::Other(why)),
                Some((other, _)) => {
                    return Err(Error::Init(format!("unexpected message {other:?}")))
                }
            }
        }
    })();
    if let Err(e) = started {
        // SAFETY: reaping our own failed child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        return Err(e);
    }
    if let Some(p) = &opts.pid_file {
        crate::create::write_pid_file(p, pid)?;
    }
    drop(locked);
    if opts.detach {
        return Ok(0);
    }
    match tty_receiver {
        Some(rx) => {
            let master = crate::tty_relay::receive_master(&rx)?;
            crate::tty_relay::relay_and_wait(pid, master, &set)
        }
        None => crate::run::wait_forwarding(pid, &set),
    }
}

/// What the exec child works from, all prepared by the parent.
struct ChildSetup<'a> {
    spec: &'a Spec,
    seccomp: Option<&'a hull_seccomp::Compiled>,
    process: &'a Process,
    joins: &'a [(libc::c_int, OwnedFd)],
    /// The init's root, to chroot into when there is no mount namespace.
    root: Option<&'a OwnedFd>,
    console: Option<&'a OwnedFd>,
    chan: &'a channel::Channel,
    preserve_fds: u32,
}

fn child(c: ChildSetup) -> Error {
    let ChildSetup {
        spec,
        seccomp,
        process,
        joins,
        root,
        console,
        chan,
        preserve_fds,
    } = c;
    crate::debug(|| "child process in init()".into());
    match chan.recv() {
        Ok(Some(Message::Go)) => {}
        Ok(other) => return Error::Init(format!("unexpected message {other:?}")),
        Err(e) => return e,
    }
    for (flag, fd) in joins.iter().filter(|(f, _)| *f != libc::CLONE_NEWPID) {
        let name = NAMESPACES
            .iter()
            .find(|(_, f)| f == flag)
            .map_or("?", |(n, _)| n);
        if let Err(e) = setns(fd, *flag, name) {
            return e;
        }
    }
    if let Some(root) = root {
        // SAFETY: fchdir to a directory fd we own, then chroot to it.
        let r = unsafe {
            if libc::fchdir(root.as_raw_fd()) == 0 {
                libc::chroot(c".".as_ptr())
            } else {
                -1
            }
        };
        if r != 0 {
            return Error::sys(
                "chroot into the container's root",
                std::io::Error::last_os_error(),
            );
        }
    }
    let joined_userns = joins.iter().any(|(f, _)| *f == libc::CLONE_NEWUSER);
    let allow_setgroups = !joined_userns || init::setgroups_allowed();
    let program =
        match init::setup_process(spec, seccomp, process, console, allow_setgroups, Some(chan)) {
            Ok(p) => p,
            Err(e) => return e,
        };
    crate::debug(|| "setns_init: about to exec".into());
    init::exec_process(seccomp, process, &program, preserve_fds)
}

fn setns(fd: &OwnedFd, flag: libc::c_int, name: &str) -> Result<()> {
    // SAFETY: setns on a namespace fd we own, with its type.
    if unsafe { libc::setns(fd.as_raw_fd(), flag) } != 0 {
        return Err(Error::sys(
            format!("join the container's {name} namespace"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Opens the namespaces of `pid` that differ from ours.
fn open_container_namespaces(pid: i32) -> Result<Vec<(libc::c_int, OwnedFd)>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let all = NAMESPACES
        .iter()
        .copied()
        .chain(std::iter::once(("pid", libc::CLONE_NEWPID)));
    for (name, flag) in all {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let ours = format!("/proc/self/ns/{name}");
        let (Ok(a), Ok(b)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue;
        };
        if a.ino() == b.ino() && a.dev() == b.dev() {
            continue;
        }
        let f = std::fs::File::open(&theirs).map_err(|e| Error::io(&theirs, e))?;
        out.push((flag, OwnedFd::from(f)));
    }
    Ok(out)
}

fn load_spec(bundle: &std::path::Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    config::parse_spec(&data)
}

/// The process to run: `--process FILE`, or the container's process with
/// the flags applied, as runc builds it.
fn build_process(spec: &Spec, opts: &ExecOptions) -> Result<Process> {
    if let Some(path) = &opts.process {
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let de = &mut serde_json::Deserializer::from_slice(&data);
        let p: Process = serde_path_to_error::deserialize(de).map_err(|e| {
            Error::Config(format!(
                "process {}: {}: {}",
                path.display(),
                e.path(),
                e.inner()
            ))
        })?;
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::Config(format!(
                "process {}: args: must not be empty",
                path.display()
            )));
        }
        return Ok(p);
    }
    if opts.args.is_empty() {
        return Err(Error::Other(
            "exec: no command given (args required)".into(),
        ));
    }
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(opts.args.clone()));
    p.set_terminal(Some(opts.tty));
    if let Some(cwd) = &opts.cwd {
        p.set_cwd(cwd.clone());
    }
    if !opts.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &opts.env {
            let key = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.set_env(Some(env));
    }
    if opts.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(u) = &opts.user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u.as_str(), None),
        };
        let parse = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| Error::Other(format!("--user {u:?}: expected uid[:gid] as numbers")))
        };
        let user = p.user_mut();
        user.set_uid(parse(uid)?);
        user.set_gid(gid.map(parse).transpose()?.unwrap_or(0));
    }
    if !opts.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(opts.additional_gids.clone()));
    }
    if !opts.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let extra: Vec<Capability> = opts
            .caps
            .iter()
            .map(|c| {
                serde_json::from_value(serde_json::Value::String(c.clone()))
                    .map_err(|_| Error::Other(format!("--cap: unknown capability {c}")))
            })
            .collect::<Result<_>>()?;
        let add = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(extra.iter().copied());
            Some(s)
        };
        caps.set_bounding(add(caps.bounding()));
        caps.set_effective(add(caps.effective()));
        caps.set_permitted(add(caps.permitted()));
        caps.set_inheritable(add(caps.inheritable()));
        caps.set_ambient(add(caps.ambient()));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}
