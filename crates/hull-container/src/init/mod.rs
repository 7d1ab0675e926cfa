//! The container's init process: everything between `clone3` and the exec
//! of the user program. It runs in the child, which is a fork-style copy of
//! `hull create`, so it reads the parsed config directly: no re-exec, no
//! second parse of config.json.
//!
//! `exec` (issue #5) reuses the same pieces: namespaces, process attributes,
//! capabilities and the final exec.

mod capabilities;
mod console;
mod exec;
mod exec_stub;
pub mod namespaces;
mod process_attrs;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::channel::{Channel, Message};
use crate::config::{self, Bundle};
use crate::error::{Error, Result};
pub use namespaces::JoinNamespace;

/// What the init needs; built by the parent before clone.
pub struct InitContext<'a> {
    pub bundle: &'a Bundle,
    pub joins: Vec<JoinNamespace>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Connected `--console-socket`, when the process has a terminal.
    pub console_socket: Option<OwnedFd>,
    /// Listening socket `start` connects to; `None` for `run`, whose
    /// `start` comes over `channel`.
    pub start_listener: Option<OwnedFd>,
    pub channel: Channel,
    /// What `create` read of /proc/self/mountinfo for the cgroups
    /// (`hull_rootfs::RootfsOptions::cgroup_mountinfo`).
    pub cgroup_mountinfo: Option<&'a str>,
    /// `hull_rootfs::detached_bind_sources`: id-mapped mounts, and bind
    /// sources a new user namespace can not reach.
    pub bind_trees: Vec<std::cell::Cell<Option<OwnedFd>>>,
}

/// Until it execs, a process of hull's is the hull binary: make it
/// non-dumpable so that container processes cannot open its
/// /proc/<pid>/exe or memory without CAP_SYS_PTRACE on the host
/// (CVE-2019-5736). exec resets this for the user program. Skipped with a
/// new user namespace, whose root cannot write the host's binary anyway and
/// whose setup writes /proc/self files that must stay its own.
pub fn make_unreachable() {
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Runs the init; never returns.
pub fn run(ctx: InitContext) -> ! {
    crate::debug(|| "child process in init()".into());
    let code = match setup(&ctx) {
        Ok(ready) => {
            // SAFETY: prctl on ourselves: from now on the init outlives `create`.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
            if let Err(e) = ctx.channel.send(&Message::Created) {
                eprintln!("hull init: {e}");
                exit(1);
            }
            match &ctx.start_listener {
                Some(listener) => wait_for_start_and_exec(&ctx, listener, &ready),
                None => start_from_channel(&ctx, &ready),
            }
        }
        Err(e) => {
            let _ = ctx.channel.send(&Message::Failed(e.to_string()));
            1
        }
    };
    exit(code)
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit skips atexit handlers and stdio flushing of the parent's
    // copied state, which is what a forked child must do.
    unsafe { libc::_exit(code) }
}

fn spec<'a>(ctx: &InitContext<'a>) -> &'a Spec {
    &ctx.bundle.spec
}

/// What a set-up init needs for `start`.
struct Ready {
    /// The resolved program; `None` when the config has no `process`.
    program: Option<std::path::PathBuf>,
    /// The filter `create` compiled, when the config has one.
    seccomp: Option<hull_seccomp::Compiled>,
}

/// Sets the container up.
fn setup(ctx: &InitContext) -> Result<Ready> {
    let spec = spec(ctx);
    match ctx.channel.recv()? {
        Some(Message::Go) => {}
        Some(Message::Failed(why)) => return Err(Error::Init(why)),
        other => return Err(Error::Init(format!("unexpected message {other:?}"))),
    }
    let new_userns = config::new_namespace(spec, LinuxNamespaceType::User);
    if new_userns {
        become_root()?;
    }
    // `create` makes the v1 cgroups while the first mounts are made; they
    // are joined before the cgroup namespace and the cgroup mounts. When
    // an existing cgroup namespace is to be joined, first, as before.
    let mut cgroups_joined = false;
    let mut join_cgroups = || -> Result<()> {
        if !cgroups_joined {
            cgroups_joined = true;
            ctx.channel.recv_v1_cgroups()?.join_v1()?;
            if config::new_namespace(spec, LinuxNamespaceType::Cgroup) {
                namespaces::unshare(libc::CLONE_NEWCGROUP, "cgroup")?;
            }
        }
        Ok(())
    };
    if ctx
        .joins
        .iter()
        .any(|j| j.typ == LinuxNamespaceType::Cgroup)
    {
        join_cgroups()?;
    }
    for ns in &ctx.joins {
        namespaces::join(ns)?;
    }
    if config::new_namespace(spec, LinuxNamespaceType::Time) {
        namespaces::unshare(libc::CLONE_NEWTIME, "time")?;
        namespaces::write_time_offsets(spec)?;
    }
    if config::has_namespace(spec, LinuxNamespaceType::Uts) {
        namespaces::set_hostname(spec)?;
    }
    if !ctx.no_new_keyring {
        join_session_keyring();
    }

    let opts = hull_rootfs::RootfsOptions {
        spec,
        rootfs: &ctx.bundle.rootfs,
        bundle: &ctx.bundle.dir,
        no_pivot: ctx.no_pivot,
        in_user_namespace: config::has_namespace(spec, LinuxNamespaceType::User),
        in_cgroup_namespace: config::has_namespace(spec, LinuxNamespaceType::Cgroup),
        host_mount_namespace: !config::has_namespace(spec, LinuxNamespaceType::Mount),
        cgroup_mountinfo: ctx.cgroup_mountinfo,
        bind_trees: &ctx.bind_trees,
    };
    hull_rootfs::prepare_with(&opts, &mut || join_cgroups().map_err(Into::into))?;
    // Compiled by `create` while the mounts above were made.
    let seccomp = ctx.channel.recv_seccomp()?;
    run_create_hooks(ctx)?;
    hull_rootfs::pivot(&opts)?;
    make_cwd_before_read_only_root(spec)?;
    // Sysctls before the read-only paths: /proc/sys becomes read-only then.
    namespaces::apply_sysctls(spec)?;
    hull_rootfs::finish(&opts)?;

    // Without `process` the container is created all the same (the spec
    // makes it optional for create); `start` reports it missing.
    let Some(process) = spec.process() else {
        return Ok(Ready {
            program: None,
            seccomp,
        });
    };
    let allow_setgroups = !new_userns || setgroups_allowed();
    let program = setup_process(
        spec,
        seccomp.as_ref(),
        process,
        ctx.console_socket.as_ref(),
        allow_setgroups,
        Some(&ctx.channel),
    )?;
    Ok(Ready {
        program: Some(program),
        seccomp,
    })
}

/// What `start` gets when the config has no `process`.
fn no_process() -> Error {
    Error::Config("process: missing, the container has no program to start".into())
}

/// Everything of `process` but the exec: terminal, rlimits, scheduling,
/// capabilities, user, no_new_privs, umask, cwd. Shared by the container's
/// init and by `exec`.
pub(crate) fn setup_process(
    spec: &Spec,
    seccomp: Option<&hull_seccomp::Compiled>,
    process: &oci_spec::runtime::Process,
    console_socket: Option<&OwnedFd>,
    allow_setgroups: bool,
    listener_to: Option<&Channel>,
) -> Result<std::path::PathBuf> {
    if process.terminal().unwrap_or(false) {
        let sock = console_socket.ok_or_else(|| {
            Error::Config("process.terminal: a terminal needs --console-socket".into())
        })?;
        let size = process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        console::setup(sock, size)?;
    }
    process_attrs::set_rlimits(process)?;
    process_attrs::set_oom_score_adj(process)?;
    process_attrs::set_personality(spec)?;
    process_attrs::set_scheduler(process)?;
    process_attrs::set_io_priority(process)?;

    let caps = match process.capabilities() {
        Some(c) => capabilities::masks(c)?,
        None => capabilities::CapMasks::default(),
    };
    capabilities::check_grantable(&caps)?;
    capabilities::drop_bounding(&caps)?;
    // The cwd with the runtime's privileges first (a directory only root
    // may enter), again as the user if that was denied (one only the user
    // may enter), as runc does; before any seccomp filter.
    let cwd_entered = enter_cwd(process.cwd(), true)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    let notify = seccomp.is_some_and(|c| c.notify);
    if !nnp || notify {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN:
        // do it while we still hold it. A filter with NOTIFY rules goes in
        // here too, so its listener reaches `create`, which hands it on.
        if let Some(listener) = install_seccomp(seccomp)? {
            let chan = listener_to
                .ok_or_else(|| Error::Init("no channel for the seccomp listener".into()))?;
            chan.send_with_fd(&Message::SeccompListener, listener.as_raw_fd())?;
        }
    }
    process_attrs::set_user(process, allow_setgroups)?;
    if !cwd_entered {
        enter_cwd(process.cwd(), false)?;
    }
    capabilities::apply(&caps)?;
    if nnp {
        process_attrs::set_no_new_privs()?;
    }
    process_attrs::set_umask(process);
    exec::resolve_program(
        process.args().as_deref().unwrap_or_default(),
        process.env().as_deref().unwrap_or_default(),
    )
}

/// The last steps before the program runs: the seccomp filter when
/// no_new_privs is set (as late as possible), fds, signals, exec.
/// Returns only on failure.
pub(crate) fn exec_process(
    seccomp: Option<&hull_seccomp::Compiled>,
    process: &oci_spec::runtime::Process,
    program: &std::path::Path,
    preserve_fds: u32,
) -> Error {
    if let Err(e) = crate::fds::keep_preserved(preserve_fds)
        .and_then(|()| crate::fds::cloexec_from(3 + preserve_fds))
    {
        return e;
    }
    if process.no_new_privileges().unwrap_or(false) && !seccomp.is_some_and(|c| c.notify) {
        if let Err(e) = install_seccomp(seccomp) {
            return e;
        }
    }
    exec::reset_signals();
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    exec::exec(program, &args, &env)
}

/// After the parent wrote our id maps: be root of the new user namespace.
fn become_root() -> Result<()> {
    // SAFETY: credential syscalls on ourselves.
    unsafe {
        if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
            return Err(Error::sys(
                "become root in the user namespace (is uid/gid 0 mapped?)",
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

pub(crate) fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() == "allow")
}

/// A new session keyring, so the container does not share the host's.
fn join_session_keyring() {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a null name creates an anonymous session keyring;
    // failure (no keyring support) is harmless.
    unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
}

fn run_create_hooks(ctx: &InitContext) -> Result<()> {
    let hooks = spec(ctx).hooks().as_ref();
    let any = |h: Option<&Vec<oci_spec::runtime::Hook>>| h.is_some_and(|v| !v.is_empty());
    let parent_hooks =
        hooks.is_some_and(|h| any(h.prestart().as_ref()) || any(h.create_runtime().as_ref()));
    let own_hooks = hooks.and_then(|h| h.create_container().as_ref());
    if !parent_hooks && !any(own_hooks) {
        return Ok(());
    }
    ctx.channel.send(&Message::RunCreateHooks)?;
    let state = match ctx.channel.recv()? {
        Some(Message::HooksDone { state }) => state,
        Some(Message::Failed(why)) => return Err(Error::Init(why)),
        other => return Err(Error::Init(format!("unexpected message {other:?}"))),
    };
    if let Some(h) = own_hooks {
        crate::hooks::run_all("createContainer", h, &state)?;
    }
    Ok(())
}

/// Installs the compiled filter; returns the NOTIFY listener if any.
fn install_seccomp(compiled: Option<&hull_seccomp::Compiled>) -> Result<Option<OwnedFd>> {
    let Some(compiled) = compiled else {
        return Ok(None);
    };
    for w in &compiled.warnings {
        crate::warn(w);
    }
    Ok(hull_seccomp::install(compiled)?)
}

/// With a read-only root, `process.cwd` can not be made once the root is
/// read-only: runc makes it before; so does hull (after pivot_root, so
/// that it is made inside the new root).
fn make_cwd_before_read_only_root(spec: &Spec) -> Result<()> {
    let read_only = spec.root().as_ref().and_then(|r| r.readonly()) == Some(true);
    match spec.process() {
        Some(p) if read_only && p.cwd() != std::path::Path::new("/") => {
            Ok(hull_rootfs::make_dir(p.cwd())?)
        }
        _ => Ok(()),
    }
}

/// chdir to process.cwd inside the new root, creating it like runc does,
/// and refuse a cwd that resolves outside the root (CVE-2024-21626).
/// With `may_retry`, permission denied is `Ok(false)`: the caller tries
/// again once it runs as the process's user.
fn enter_cwd(cwd: &std::path::Path, may_retry: bool) -> Result<bool> {
    let bad = |why: String| Error::Config(format!("process.cwd {}: {why}", cwd.display()));
    let fd = match open_in_root(cwd) {
        Ok(fd) => fd,
        Err(e) if may_retry && e.raw_os_error() == Some(libc::EACCES) => return Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            // Created like runc does; never through /proc, where a magic
            // link could lead the creation out of the root.
            if cwd.starts_with("/proc") {
                return Err(bad("does not exist".into()));
            }
            std::fs::create_dir_all(cwd).map_err(|e| bad(crate::error::errno_text(&e)))?;
            open_in_root(cwd).map_err(|e| bad(crate::error::errno_text(&e)))?
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => {
            // A seccomp profile that predates openat2 (runtime-tools' does):
            // chdir by path, and check with getcwd where that is allowed.
            std::env::set_current_dir(cwd).map_err(|e| bad(crate::error::errno_text(&e)))?;
            return match std::env::current_dir() {
                Ok(p) if !p.is_absolute() => {
                    Err(bad("resolves outside the container's root".into()))
                }
                _ => Ok(true),
            };
        }
        Err(e) => return Err(bad(crate::error::errno_text(&e))),
    };
    // SAFETY: fchdir to a directory fd we own.
    if unsafe { libc::fchdir(fd.as_raw_fd()) } != 0 {
        let e = std::io::Error::last_os_error();
        if may_retry && e.raw_os_error() == Some(libc::EACCES) {
            return Ok(false);
        }
        return Err(bad(crate::error::errno_text(&e)));
    }
    Ok(true)
}

/// Opens a directory resolved inside "/" (the container's root after
/// pivot_root) with no magic links: a cwd such as /proc/self/fd/N cannot
/// lead to a host directory (CVE-2024-21626), and no getcwd is needed,
/// which a seccomp profile may deny.
fn open_in_root(path: &std::path::Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open_how is plain data; all-zero is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads a NUL-terminated path and an open_how of the
    // size we pass; it returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Blocks until `hull start` connects, then runs startContainer hooks and
/// execs the program. Errors go back to `start` over its connection.
fn wait_for_start_and_exec(ctx: &InitContext, listener: &OwnedFd, ready: &Ready) -> i32 {
    // The channel to `create` is done; `start` is the next one to talk to.
    let conn = loop {
        // SAFETY: accept on our listening socket; the new fd is ours.
        let fd = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: accept4 just returned this fd.
            break unsafe { std::fs::File::from(OwnedFd::from_raw_fd(fd)) };
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return 1;
        }
    };
    let mut conn = conn;
    let err = match read_start_request(&mut conn) {
        Ok(state) => exec_started(ctx, ready, &state),
        Err(e) => e,
    };
    let _ = conn.write_all(err.to_string().as_bytes());
    127
}

/// `run`'s start: the request comes over the setup channel, and so does an
/// error; a successful exec closes the channel.
fn start_from_channel(ctx: &InitContext, ready: &Ready) -> i32 {
    let err = match ctx.channel.recv() {
        Ok(Some(Message::Start { state })) => exec_started(ctx, ready, &state),
        // `run` gave up (its error is its own to report).
        Ok(None) => return 1,
        Ok(Some(other)) => Error::Init(format!("unexpected message {other:?}")),
        Err(e) => e,
    };
    let _ = ctx.channel.send(&Message::Failed(err.to_string()));
    127
}

/// `start` sends the state the startContainer hooks get on stdin, ending
/// with a newline.
fn read_start_request(conn: &mut std::fs::File) -> Result<String> {
    let mut state = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                state.extend_from_slice(&buf[..n]);
                if state.last() == Some(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::sys("read start request", e)),
        }
    }
    Ok(String::from_utf8_lossy(&state).trim_end().to_string())
}

/// Runs startContainer hooks and execs the program; returns only on failure.
fn exec_started(ctx: &InitContext, ready: &Ready, state: &str) -> Error {
    let spec = spec(ctx);
    let (Some(process), Some(program)) = (spec.process(), ready.program.as_deref()) else {
        return no_process();
    };
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        if let Err(e) = crate::hooks::run_all("startContainer", h, state) {
            return e;
        }
    }
    // The exec closes the close-on-exec start channel: that tells `start`
    // (or `run`) the program runs. runc's words for it.
    crate::debug(|| "init: closing the pipe to signal completion".into());
    exec_process(ready.seccomp.as_ref(), process, program, ctx.preserve_fds)
}
