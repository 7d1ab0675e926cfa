//! The last step of the init: find the program in the container's PATH and
//! execve it with exactly the configured environment.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Config(format!("{what}: contains a NUL byte: {s:?}")))
}

/// Looks `prog` up like execvp does, but in the container's PATH.
/// Finds the program to run, as execvp would, in the container's PATH, and
/// checks it can be executed: like runc, `create` then reports a missing or
/// non-executable program instead of a container that exits 127 later.
/// Runs in the container, after the user and cwd are set.
pub fn resolve_program(args: &[String], env: &[String]) -> Result<PathBuf> {
    let prog = args
        .first()
        .ok_or_else(|| Error::Config("process.args: must not be empty".into()))?;
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        let meta = std::fs::metadata(&p).map_err(|e| {
            Error::Init(format!(
                "exec: {prog:?}: stat {prog}: {}",
                crate::error::errno_text(&e)
            ))
        })?;
        if !meta.is_file() || !is_executable(&p) {
            return Err(Error::Init(format!("exec: {prog:?}: permission denied")));
        }
        return Ok(p);
    }
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(prog);
        if is_executable(&cand) {
            return Ok(cand);
        }
    }
    Err(Error::Init(format!(
        "exec: {prog:?}: executable file not found in $PATH"
    )))
}

fn is_executable(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access() reads a NUL-terminated path.
    let runnable = unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 };
    runnable && std::fs::metadata(p).is_ok_and(|m| m.is_file())
}

/// Replaces this process with the program at `path` (from
/// [`resolve_program`]). Returns only on failure.
pub fn exec(path: &Path, args: &[String], env: &[String]) -> Error {
    match try_exec(path, args, env) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn try_exec(path: &Path, args: &[String], env: &[String]) -> Result<std::convert::Infallible> {
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Config("process.args[0]: contains a NUL byte".into()))?;
    let argv: Vec<CString> = args
        .iter()
        .map(|a| cstring(a, "process.args"))
        .collect::<Result<_>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|e| cstring(e, "process.env"))
        .collect::<Result<_>>()?;
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    if let Some(stub) = super::exec_stub::sealed_stub() {
        super::exec_stub::exec_through(&stub, &cpath, &argv, &envp_p);
        // The stub could not run (seccomp denies execveat, say): exec directly.
    }
    // SAFETY: all pointers are NUL-terminated strings kept alive by argv and
    // envp, and both arrays end with a null pointer.
    unsafe { libc::execve(cpath.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
    Err(Error::Init(format!(
        "exec {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    )))
}

/// Restores default signal handling: the runtime ignores SIGPIPE, and an
/// ignored signal stays ignored across exec.
pub fn reset_signals() {
    // SAFETY: resetting dispositions and unblocking all signals for ourselves.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}
