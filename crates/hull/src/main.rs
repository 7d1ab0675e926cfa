//! hull: an OCI container runtime with runc's command line. This binary
//! only parses arguments; `hull-container` does the work.
#![cfg_attr(not(test), no_main)]
// (Under `cargo test` the test harness brings its own `main`.)
#![cfg_attr(test, allow(dead_code))]

mod cli;
mod commands;
mod flags;
mod help;
mod log;

/// With musl, dlmalloc instead of musl's own allocator (Cargo.toml says why).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// The entry point, without std's runtime start-up, which reads
/// /proc/self/maps on every start to place the main thread's stack guard: a
/// procfs read on the hot path of every command. What hull needs from that
/// start-up is done here, and stdout is flushed at the end.
///
/// # Safety
/// Called by the C runtime only, with its argc and argv.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    prepare_process();
    // SAFETY: the C runtime passes argc valid NUL-terminated strings in argv.
    let args = unsafe { args_from(argc, argv) };
    let code = run(args);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    code
}

/// SIGPIPE ignored, so that a write to a closed pipe or socket returns
/// EPIPE (the init restores the default before the exec); fds 0 to 2 open,
/// so that the first files hull opens cannot take their numbers and reach
/// the container as its stdio.
fn prepare_process() {
    // SAFETY: setting a signal disposition and checking fds of our own,
    // before anything else runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        for fd in 0..3 {
            if libc::fcntl(fd, libc::F_GETFD) == -1
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
            {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}

/// The command line from C's argv. std::env::args would be empty here with
/// musl, where std's start-up (not run: no_main) is what records them.
///
/// # Safety
/// `argv` holds `argc` pointers to NUL-terminated strings (null ones are
/// skipped).
#[cfg(not(test))]
unsafe fn args_from(
    argc: libc::c_int,
    argv: *const *const libc::c_char,
) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let n = usize::try_from(argc).unwrap_or(0);
    (0..n)
        .filter_map(|i| {
            // SAFETY: i < argc, per the caller's contract.
            let p = unsafe { *argv.add(i) };
            if p.is_null() {
                return None;
            }
            // SAFETY: a non-null argv entry is a NUL-terminated string.
            let bytes = unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes();
            Some(std::ffi::OsStr::from_bytes(bytes).to_owned())
        })
        .collect()
}

/// Parses the command line and runs the command; the exit status.
fn run(args: Vec<std::ffi::OsString>) -> libc::c_int {
    let args = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    cli::main(args)
}
