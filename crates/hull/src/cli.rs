//! The command line, flag for flag as runc has it. Long flags are accepted
//! with one dash too (`-no-subreaper`, as containerd's shim passes it) and
//! with `=` (`--log-format=json`, as conmon writes it).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use hull_container::create::CreateOptions;
use hull_container::run::RunOptions;
use hull_container::state_store::Store;
use hull_container::{Error, Result};

use crate::log;

/// `--version` in runc's layout, which version parsers (podman) read.
pub const VERSION_TEXT: &str = concat!(
    "hull version ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("CARGO_PKG_VERSION"),
    "\nspec: 1.2.1\n"
);

#[derive(Parser)]
#[command(name = "hull", about = "hull: an OCI container runtime")]
pub struct Cli {
    /// Root directory for storage of container state
    #[arg(long, global = true, default_value = "/run/hull")]
    root: PathBuf,
    /// Set the log file to write hull logs to (default is stderr)
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Set the log format ('text' (default), or 'json')
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    /// Enable debug logging
    #[arg(long, global = true)]
    debug: bool,
    /// Enable systemd cgroup support
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Ignore cgroup permission errors ('true', 'false', or 'auto')
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = false)]
    rootless: Option<String>,
    /// Enable criu support (accepted for compatibility; unused)
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct CreateArgs {
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Specify the file to write the process id to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Do not use pivot root to jail process inside rootfs
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass N additional file descriptors to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    container_id: String,
}

#[derive(Args)]
struct ExecArgs {
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Set environment variables
    #[arg(short, long)]
    env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Path to the process.json
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short, long)]
    detach: bool,
    /// Specify the file to write the process id to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Set the asm process label for the process commonly used with selinux
    #[arg(long = "process-label")]
    process_label: Option<String>,
    /// Set the apparmor profile for the process
    #[arg(long)]
    apparmor: Option<String>,
    /// Set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Add a capability to the bounding set for the process
    #[arg(short, long)]
    cap: Vec<String>,
    /// Pass N additional file descriptors to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Run the exec process in the given cgroup (accepted; the container's cgroup is used)
    #[arg(long)]
    cgroup: Vec<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    container_id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args)]
struct UpdateArgs {
    /// Path to a file containing the resources to update or '-' to read from the standard input
    #[arg(short, long)]
    resources: Option<String>,
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    #[arg(long)]
    memory: Option<String>,
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    memory_swap: Option<String>,
    #[arg(long = "pids-limit")]
    pids_limit: Option<i64>,
    container_id: String,
}

#[derive(Args)]
struct CriuArgs {
    #[arg(long = "image-path")]
    image_path: Option<PathBuf>,
    #[arg(long = "work-path")]
    work_path: Option<PathBuf>,
    #[arg(long = "parent-path")]
    parent_path: Option<PathBuf>,
    #[arg(long = "leave-running")]
    leave_running: bool,
    #[arg(long = "tcp-established")]
    tcp_established: bool,
    #[arg(long = "ext-unix-sk")]
    ext_unix_sk: bool,
    #[arg(long = "shell-job")]
    shell_job: bool,
    #[arg(long = "file-locks")]
    file_locks: bool,
    #[arg(long = "empty-ns")]
    empty_ns: Vec<String>,
    #[arg(long = "manage-cgroups-mode")]
    manage_cgroups_mode: Option<String>,
    #[arg(short, long)]
    bundle: Option<PathBuf>,
    #[arg(short, long)]
    detach: bool,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long = "no-subreaper")]
    no_subreaper: bool,
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    container_id: String,
}

#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Create a container
    Create(CreateArgs),
    /// Execute the user defined process in a created container
    Start { container_id: String },
    /// Output the state of a container
    State { container_id: String },
    /// Kill sends the specified signal (default: SIGTERM) to the container's init process
    Kill {
        /// Send the specified signal to all processes inside the container
        #[arg(short, long)]
        all: bool,
        container_id: String,
        signal: Option<String>,
    },
    /// Delete any resources held by the container
    Delete {
        /// Forcibly delete the container if it is still running (uses SIGKILL)
        #[arg(short, long)]
        force: bool,
        container_id: String,
    },
    /// Create and run a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Detach from the container's process
        #[arg(short, long)]
        detach: bool,
        /// Do not delete the container after it exits
        #[arg(long)]
        keep: bool,
        /// Disable the use of the subreaper used to reap reparented processes
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
    },
    /// Lists containers started by hull with the given root
    List {
        /// Select one of: table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Display only container IDs
        #[arg(short, long)]
        quiet: bool,
    },
    /// Execute new process inside the container
    Exec(ExecArgs),
    /// Suspend all processes inside the container
    Pause { container_id: String },
    /// Resume all processes that have been previously paused
    Resume { container_id: String },
    /// Displays the processes running inside a container
    Ps {
        /// Select one of: table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        container_id: String,
        /// Options passed to ps(1) for the table format
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Update container resource constraints
    Update(UpdateArgs),
    /// Display container events such as OOM notifications, cpu, memory, and IO usage statistics
    Events {
        /// Display the container's stats then exit
        #[arg(long)]
        stats: bool,
        /// Set the stats collection interval
        #[arg(long, default_value = "5s")]
        interval: String,
        container_id: String,
    },
    /// Show the enabled features
    Features,
    /// Checkpoint a running container (needs CRIU)
    Checkpoint(CriuArgs),
    /// Restore a container from a previous checkpoint (needs CRIU)
    Restore(CriuArgs),
    /// Create a new specification file
    Spec {
        /// Path to the root of the bundle directory
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Generate a configuration for a rootless container
        #[arg(long = "rootless", id = "spec_rootless")]
        rootless: bool,
    },
}

/// Long flags hull knows; `-name` is rewritten to `--name` for these only,
/// so a container command's own `-la` stays untouched.
const LONG_FLAGS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "debug",
    "systemd-cgroup",
    "rootless",
    "criu",
    "bundle",
    "console-socket",
    "pid-file",
    "no-pivot",
    "no-new-keyring",
    "preserve-fds",
    "all",
    "force",
    "detach",
    "keep",
    "no-subreaper",
    "format",
    "quiet",
    "version",
    "help",
    "cwd",
    "env",
    "tty",
    "user",
    "additional-gids",
    "process",
    "process-label",
    "apparmor",
    "no-new-privs",
    "cap",
    "cgroup",
    "ignore-paused",
    "resources",
    "stats",
    "interval",
    "image-path",
    "work-path",
    "parent-path",
    "leave-running",
    "tcp-established",
    "ext-unix-sk",
    "shell-job",
    "file-locks",
    "empty-ns",
    "manage-cgroups-mode",
    "memory",
    "memory-swap",
    "memory-reservation",
    "cpu-quota",
    "cpu-period",
    "cpu-share",
    "cpuset-cpus",
    "cpuset-mems",
    "pids-limit",
    "blkio-weight",
    "cpu-rt-period",
    "cpu-rt-runtime",
];

pub fn normalize_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    args.map(|a| {
        let Some(s) = a.to_str() else { return a };
        if s.starts_with('-') && !s.starts_with("--") && s.len() > 2 {
            let name = s[1..].split('=').next().unwrap_or("");
            if LONG_FLAGS.contains(&name) {
                return OsString::from(format!("-{s}"));
            }
        }
        a
    })
    .collect()
}

pub fn parse(args: Vec<OsString>) -> std::result::Result<Cli, clap::Error> {
    Cli::try_parse_from(args)
}

fn create_options(a: CreateArgs, systemd: bool) -> CreateOptions {
    CreateOptions {
        id: a.container_id,
        bundle: a.bundle,
        pid_file: a.pid_file.map(absolute),
        console_socket: a.console_socket.map(absolute),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        systemd_cgroup: systemd,
        relay_tty: false,
        start_now: false,
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        return p;
    }
    std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
}

pub fn dispatch(cli: Cli) -> Result<u8> {
    let format = match cli.log_format.as_str() {
        "json" => log::Format::Json,
        "text" => log::Format::Text,
        other => {
            return Err(Error::Other(format!(
                "invalid log-format {other:?} (text or json)"
            )))
        }
    };
    log::init(cli.log.as_deref(), format, cli.debug);
    let store = Store::new(&cli.root);
    match cli.command {
        Command::Create(a) => {
            hull_container::create::create(&store, &create_options(a, cli.systemd_cgroup))?;
        }
        Command::Start { container_id } => hull_container::start::start(&store, &container_id)?,
        Command::State { container_id } => {
            println!("{}", hull_container::query::state(&store, &container_id)?)
        }
        Command::Kill {
            all,
            container_id,
            signal,
        } => {
            let sig = hull_container::kill::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            hull_container::kill::kill(&store, &container_id, sig, all)?;
        }
        Command::Delete {
            force,
            container_id,
        } => hull_container::delete::delete(&store, &container_id, force)?,
        Command::Run {
            create,
            detach,
            keep,
            no_subreaper: _,
        } => {
            let opts = RunOptions {
                create: create_options(create, cli.systemd_cgroup),
                detach,
                keep,
            };
            let code = hull_container::run::run(&store, &opts)?;
            return Ok(code.clamp(0, 255) as u8);
        }
        Command::List { format, quiet } => list(&store, &format, quiet)?,
        Command::Exec(a) => {
            let opts = hull_container::container_exec::ExecOptions {
                id: a.container_id,
                process: a.process,
                args: a.command,
                tty: a.tty,
                cwd: a.cwd,
                env: a.env,
                user: a.user,
                additional_gids: a.additional_gids,
                caps: a.cap,
                no_new_privs: a.no_new_privs,
                console_socket: a.console_socket.map(absolute),
                pid_file: a.pid_file.map(absolute),
                detach: a.detach,
                preserve_fds: a.preserve_fds,
                ignore_paused: a.ignore_paused,
            };
            let _ = (a.process_label, a.apparmor, a.cgroup);
            let code = hull_container::container_exec::exec(&store, &opts)?;
            return Ok(code.clamp(0, 255) as u8);
        }
        Command::Pause { container_id } => {
            hull_container::cgroup_ops::pause(&store, &container_id)?
        }
        Command::Resume { container_id } => {
            hull_container::cgroup_ops::resume(&store, &container_id)?
        }
        Command::Ps {
            format,
            container_id,
            ps_args,
        } => ps(&store, &container_id, &format, &ps_args)?,
        Command::Update(a) => update(&store, a)?,
        Command::Events {
            stats,
            interval,
            container_id,
        } => {
            if stats {
                println!(
                    "{}",
                    hull_container::cgroup_ops::stats_event(&store, &container_id)?
                );
            } else {
                let every = parse_duration(&interval)?;
                hull_container::cgroup_ops::events(&store, &container_id, every)?;
            }
        }
        Command::Features => {
            let doc = hull_container::features::document();
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Command::Checkpoint(a) | Command::Restore(a) => {
            return Err(Error::Other(format!(
                "checkpoint/restore of {}: CRIU cannot work on this host (Debian's criu 3.17 fails on this kernel: \"Unexpected rt vDSO area bounds\"); hull does not support checkpoint/restore yet",
                a.container_id
            )));
        }
        Command::Spec { bundle, rootless } => spec(&bundle, rootless)?,
    }
    Ok(0)
}

fn list(store: &Store, format: &str, quiet: bool) -> Result<()> {
    let all = hull_container::query::list(store)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for (rec, _) in &all {
            let _ = writeln!(out, "{}", rec.id);
        }
        return Ok(());
    }
    match format {
        "json" => {
            let views: Vec<_> = all
                .iter()
                .map(|(r, s)| hull_container::status::StateView::new(r, *s))
                .collect();
            let text = if views.is_empty() {
                "null".to_string()
            } else {
                serde_json::to_string(&views).unwrap_or_default()
            };
            let _ = writeln!(out, "{text}");
        }
        "table" => {
            let rows: Vec<[String; 6]> = all
                .iter()
                .map(|(r, s)| {
                    let v = hull_container::status::StateView::new(r, *s);
                    [
                        r.id.clone(),
                        v.pid.to_string(),
                        s.as_str().to_string(),
                        r.bundle.display().to_string(),
                        r.created.clone(),
                        r.owner.clone(),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for row in &rows {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.len());
                }
            }
            for row in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = row
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                let _ = writeln!(out, "{}", line.join("   ").trim_end());
            }
        }
        other => {
            return Err(Error::Other(format!(
                "invalid format option {other:?} (table or json)"
            )))
        }
    }
    Ok(())
}

fn spec(bundle: &std::path::Path, rootless: bool) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::Other(
            "File config.json exists. Remove it first".into(),
        ));
    }
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let text = hull_container::default_spec::default_spec(rootless, uid, gid);
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

fn ps(store: &Store, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let pids = hull_container::cgroup_ops::pids(store, id)?;
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids).unwrap_or_default());
            Ok(())
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Error::sys("run ps", e))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let pid_col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| Error::Other("ps output has no PID column".into()))?;
            println!("{header}");
            for line in lines {
                let pid = line
                    .split_whitespace()
                    .nth(pid_col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{line}");
                }
            }
            Ok(())
        }
        other => Err(Error::Other(format!(
            "invalid format option {other:?} (table or json)"
        ))),
    }
}

/// Memory sizes as runc's update flags take them: bytes, or with k/m/g.
fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| Error::Other(format!("invalid size {s:?}")))
}

fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let bad = || Error::Other(format!("invalid interval {s:?}"));
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn update(store: &Store, a: UpdateArgs) -> Result<()> {
    use std::io::Read;
    let mut v: serde_json::Value = match a.resources.as_deref() {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::sys("read resources from stdin", e))?;
            serde_json::from_slice(&buf)
                .map_err(|e| Error::Other(format!("resources from stdin: {e}")))?
        }
        Some(path) => {
            let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            serde_json::from_slice(&buf).map_err(|e| Error::Other(format!("{path}: {e}")))?
        }
        None => serde_json::json!({}),
    };
    let mut set = |section: &str, key: &str, val: serde_json::Value| {
        if !v[section].is_object() {
            v[section] = serde_json::json!({});
        }
        v[section][key] = val;
    };
    if let Some(w) = a.blkio_weight {
        set("blockIO", "weight", w.into());
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", x.into());
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", x.into());
    }
    if let Some(x) = a.cpu_share {
        set("cpu", "shares", x.into());
    }
    if let Some(x) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", x.into());
    }
    if let Some(x) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", x.into());
    }
    if let Some(x) = a.cpuset_cpus {
        set("cpu", "cpus", x.into());
    }
    if let Some(x) = a.cpuset_mems {
        set("cpu", "mems", x.into());
    }
    if let Some(x) = &a.memory {
        set("memory", "limit", parse_size(x)?.into());
    }
    if let Some(x) = &a.memory_reservation {
        set("memory", "reservation", parse_size(x)?.into());
    }
    if let Some(x) = &a.memory_swap {
        set("memory", "swap", parse_size(x)?.into());
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", x.into());
    }
    let resources: oci_spec::runtime::LinuxResources =
        serde_json::from_value(v).map_err(|e| Error::Other(format!("resources: {e}")))?;
    hull_container::cgroup_ops::update(store, &a.container_id, &resources)
}
