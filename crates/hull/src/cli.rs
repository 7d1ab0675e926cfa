//! The command line: parses it as runc does (commands.rs has the table,
//! flags.rs the rules), answers `-h`/`--help`/`help` and `-v`/`--version`,
//! sets up the log, and hands each command to hull-container. Exit statuses
//! as runc's: 0, 1 for errors, 3 for an unknown command, 255 for a failed
//! `exec`, and the container's own status for `run` and `exec`.

use std::path::{Path, PathBuf};

use hull_container::create::CreateOptions;
use hull_container::state_store::Store;
use hull_container::{Error, Result};

use crate::commands::{self, Arity, Command, GLOBAL_FLAGS, HELP};
use crate::flags::{self, Flag, Parsed};
use crate::help;
use crate::log::{self, Format};

/// Parses `args` (the program name first) and runs the command; the exit
/// status.
pub fn main(args: Vec<String>) -> i32 {
    let invoked = args.first().cloned().unwrap_or_else(|| "hull".into());
    let program = Path::new(&invoked)
        .file_name()
        .map_or_else(|| "hull".into(), |n| n.to_string_lossy().into_owned());
    let rest = args.get(1..).unwrap_or_default();

    let global_flags: Vec<&Flag> = GLOBAL_FLAGS.iter().collect();
    let globals = match flags::parse(&global_flags, rest) {
        Ok(g) => g,
        Err(e) => {
            print!("Incorrect Usage. {e}\n\n{}", help::app(&program));
            return fail(&e.to_string(), 1);
        }
    };
    if globals.bool("help") {
        print!("{}", help::app(&program));
        return 0;
    }
    if globals.bool("version") {
        print!("{}", help::version_text());
        return 0;
    }
    let root = match state_root(&globals) {
        Ok(r) => r,
        Err(e) => return fail(&e, 1),
    };
    let format = Format::parse(globals.str("log-format").unwrap_or("text"));
    let format = match format {
        Ok(f) => f,
        Err(e) => return fail(&e, 1),
    };
    let log_path = globals.str("log").filter(|p| !p.is_empty()).map(Path::new);
    if let Err(e) = log::init(format, globals.bool("debug"), log_path) {
        return fail(&e, 1);
    }
    log::connect_library();

    let Some((name, cmd_args)) = globals.args.split_first() else {
        print!("{}", help::app(&program));
        return 0;
    };
    if name == "help" || name == "h" {
        return help_command(&program, cmd_args.first().map(String::as_str));
    }
    let Some(cmd) = commands::find(name) else {
        return no_help_topic(name);
    };
    let cmd_flags: Vec<&Flag> = cmd.flags.iter().chain(std::iter::once(&HELP)).collect();
    let cmd_args = if cmd.flags_first {
        cmd_args.to_vec()
    } else {
        flags::reorder(&cmd_flags, cmd_args)
    };
    let parsed = match flags::parse(&cmd_flags, &cmd_args) {
        Ok(p) => p,
        Err(e) => {
            print!("Incorrect Usage: {e}\n\n{}", help::command(&program, cmd));
            return fail(&e.to_string(), 1);
        }
    };
    if parsed.bool("help") {
        print!("{}", help::command(&program, cmd));
        return 0;
    }
    if let Err(e) = check_arity(cmd, &parsed, &invoked) {
        print!("Incorrect Usage.\n\n{}", help::command(&program, cmd));
        return fail(&e, 1);
    }
    let ctx = Context {
        store: Store::new(root),
        systemd_cgroup: globals.bool("systemd-cgroup"),
        flags: parsed,
    };
    log::debug(|| format!("{} {}: arguments {:?}", program, cmd.name, ctx.flags.args));
    match dispatch(cmd, &ctx) {
        Ok(code) => code,
        Err(e) => {
            let (prefix, code) = match cmd.name {
                "exec" => ("exec failed: ".to_string(), 255),
                "create" | "run" => (format!("hull {} failed: ", cmd.name), 1),
                _ => (String::new(), 1),
            };
            fail(&format!("{prefix}{e}"), code)
        }
    }
}

/// Logs `msg` as the error that ends the command; returns `code`.
fn fail(msg: &str, code: i32) -> i32 {
    log::fatal(msg);
    code
}

/// `help [command]`.
fn help_command(program: &str, topic: Option<&str>) -> i32 {
    match topic {
        None => {
            print!("{}", help::app(program));
            0
        }
        Some(t) => match commands::find(t) {
            Some(c) => {
                print!("{}", help::command(program, c));
                0
            }
            None => no_help_topic(t),
        },
    }
}

/// What runc answers for an unknown command (`runc foo`, `runc help foo`).
fn no_help_topic(name: &str) -> i32 {
    fail(&format!("No help topic for '{name}'\n"), 3)
}

/// `--root`, made absolute; `/` is refused as runc refuses it.
fn state_root(globals: &Parsed) -> std::result::Result<PathBuf, String> {
    let Some(given) = globals.str("root") else {
        return Ok(PathBuf::from("/run/hull"));
    };
    let root = clean_absolute(Path::new(given));
    if root == Path::new("/") {
        return Err("Option --root argument should not be set to /".into());
    }
    Ok(root)
}

/// An absolute, lexically cleaned path (Go's filepath.Abs).
fn clean_absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// runc's argument count checks, with its message.
fn check_arity(cmd: &Command, parsed: &Parsed, invoked: &str) -> std::result::Result<(), String> {
    let n = parsed.args.len();
    let (bad, how, count) = match cmd.arity {
        Arity::Exactly(k) => (n != k, "exactly", k),
        Arity::AtLeast(k) => (n < k, "a minimum of", k),
        Arity::Between(lo, _) if n < lo => (true, "a minimum of", lo),
        Arity::Between(_, hi) => (n > hi, "a maximum of", hi),
    };
    if bad {
        return Err(format!(
            "{invoked}: {:?} requires {how} {count} argument(s)",
            cmd.name
        ));
    }
    Ok(())
}

struct Context {
    store: Store,
    systemd_cgroup: bool,
    flags: Parsed,
}

impl Context {
    fn id(&self) -> &str {
        self.flags.args.first().map_or("", String::as_str)
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.flags
            .str(name)
            .filter(|p| !p.is_empty())
            .map(|p| absolute(Path::new(p)))
    }

    fn count(&self, name: &str) -> Result<u32> {
        let Some(v) = self.flags.str(name) else {
            return Ok(0);
        };
        v.parse()
            .map_err(|_| Error::Other(format!("invalid value {v:?} for flag -{name}")))
    }

    fn create_options(&self) -> Result<CreateOptions> {
        Ok(CreateOptions {
            id: self.id().to_string(),
            bundle: self
                .flags
                .str("bundle")
                .filter(|b| !b.is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            pid_file: self.path("pid-file"),
            console_socket: self.path("console-socket"),
            pidfd_socket: self.path("pidfd-socket"),
            no_pivot: self.flags.bool("no-pivot"),
            no_new_keyring: self.flags.bool("no-new-keyring"),
            preserve_fds: self.count("preserve-fds")?,
            systemd_cgroup: self.systemd_cgroup,
            relay_tty: false,
            start_now: false,
        })
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p))
}

/// Runs one command; the exit status.
fn dispatch(cmd: &Command, ctx: &Context) -> Result<i32> {
    let store = &ctx.store;
    let id = ctx.id();
    let f = &ctx.flags;
    match cmd.name {
        "create" => {
            hull_container::create::create(store, &ctx.create_options()?)?;
        }
        "run" => {
            let opts = hull_container::run::RunOptions {
                create: ctx.create_options()?,
                detach: f.bool("detach"),
                keep: f.bool("keep"),
            };
            return Ok(hull_container::run::run(store, &opts)?.clamp(0, 255));
        }
        "start" => hull_container::start::start(store, id)?,
        "state" => print!("{}", hull_container::query::state(store, id)?),
        "kill" => {
            let signal = f.args.get(1).map_or("SIGTERM", String::as_str);
            hull_container::kill::kill(store, id, signal, f.bool("all"))?;
        }
        "delete" => hull_container::delete::delete(store, id, f.bool("force"))?,
        "exec" => return exec(ctx),
        "list" => print!(
            "{}",
            hull_container::query::list_text(
                store,
                f.str("format").unwrap_or("table"),
                f.bool("quiet")
            )?
        ),
        "pause" => hull_container::cgroup_ops::pause(store, id)?,
        "resume" => hull_container::cgroup_ops::resume(store, id)?,
        "ps" => print!(
            "{}",
            hull_container::ps::ps(store, id, f.str("format").unwrap_or("table"), &f.args[1..])?
        ),
        "update" => {
            // The container first, as runc: an unknown one is reported
            // before a bad value.
            hull_container::query::state(store, id)?;
            let get = |name: &str| f.str(name).map(str::to_string);
            let resources = hull_container::update_flags::resources(&get, &mut std::io::stdin())?;
            hull_container::cgroup_ops::update(store, id, &resources)?;
        }
        "events" => events(ctx)?,
        "features" => {
            let doc = hull_container::features::document();
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        "checkpoint" | "restore" => checkpoint(ctx, cmd.name)?,
        "spec" => spec(ctx)?,
        other => return Err(Error::Other(format!("no such command {other:?}"))),
    }
    Ok(0)
}

fn exec(ctx: &Context) -> Result<i32> {
    let f = &ctx.flags;
    let additional_gids = f
        .all("additional-gids")
        .iter()
        .map(|g| {
            g.parse::<u32>()
                .map_err(|_| Error::Other(format!("invalid additional gid {g:?}")))
        })
        .collect::<Result<Vec<u32>>>()?;
    let opts = hull_container::container_exec::ExecOptions {
        id: ctx.id().to_string(),
        process: f
            .str("process")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        args: f.args[1..].to_vec(),
        tty: f.bool("tty"),
        cwd: f.str("cwd").filter(|c| !c.is_empty()).map(PathBuf::from),
        env: f.all("env"),
        user: f.str("user").filter(|u| !u.is_empty()).map(str::to_string),
        additional_gids,
        caps: f.all("cap"),
        no_new_privs: f.bool("no-new-privs"),
        console_socket: ctx.path("console-socket"),
        pidfd_socket: ctx.path("pidfd-socket"),
        pid_file: ctx.path("pid-file"),
        detach: f.bool("detach"),
        preserve_fds: ctx.count("preserve-fds")?,
        ignore_paused: f.bool("ignore-paused"),
    };
    Ok(hull_container::container_exec::exec(&ctx.store, &opts)?.clamp(0, 255))
}

fn events(ctx: &Context) -> Result<()> {
    let (store, id, f) = (&ctx.store, ctx.id(), &ctx.flags);
    if f.bool("stats") {
        println!("{}", hull_container::events::stats_event(store, id)?);
        return Ok(());
    }
    let nanos = flags::parse_duration(f.str("interval").unwrap_or("5s")).unwrap_or(0);
    let interval = std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(0));
    hull_container::events::events(store, id, interval, &mut std::io::stdout())
}

/// checkpoint/restore: runc's checks of the image paths, then the answer
/// that hull has no CRIU support.
fn checkpoint(ctx: &Context, name: &str) -> Result<()> {
    let f = &ctx.flags;
    hull_container::query::state(&ctx.store, ctx.id())?;
    if name == "checkpoint" {
        if let Some(parent) = f.str("parent-path").filter(|p| !p.is_empty()) {
            let images = f.str("image-path").unwrap_or("");
            if Path::new(parent).is_absolute() {
                return Err(Error::Other("--parent-path must be relative".into()));
            }
            let real = Path::new(images).join(parent);
            match std::fs::metadata(&real) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::Other(format!(
                        "invalid --parent-path: {}: not a directory",
                        real.display()
                    )))
                }
                Err(e) => {
                    return Err(Error::Other(format!(
                        "invalid --parent-path: stat {}: {}",
                        real.display(),
                        hull_container::error::errno_text(&e)
                    )))
                }
            }
        }
    }
    Err(Error::Other(format!(
        "{name} of {}: hull does not support checkpoint/restore (CRIU) yet",
        ctx.id()
    )))
}

fn spec(ctx: &Context) -> Result<()> {
    let f = &ctx.flags;
    let bundle = f.str("bundle").filter(|b| !b.is_empty()).unwrap_or(".");
    let path = Path::new(bundle).join("config.json");
    if path.exists() {
        return Err(Error::Other(
            "File config.json exists. Remove it first".into(),
        ));
    }
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let text = hull_container::default_spec::default_spec(f.bool("rootless"), uid, gid);
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_made_absolute_and_clean() {
        assert_eq!(
            clean_absolute(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(clean_absolute(Path::new("/..")), PathBuf::from("/"));
    }
}
