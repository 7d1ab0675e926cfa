//! `-h`, `--help` and `help [command]` in runc's layout (urfave/cli's
//! templates: NAME, USAGE, DESCRIPTION, OPTIONS; columns aligned as Go's
//! tabwriter aligns them), and `--version`.

use crate::commands::{self, Command, APP_USAGE, GLOBAL_FLAGS};
use crate::flags::{Flag, Kind};
use hull_container::text_table::tabwrite;

/// `--version`: runc's layout, which Docker (first line, `commit:`) and
/// podman read. The word is hull's own name, not runc's.
pub fn version_text() -> String {
    format!(
        "hull version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("HULL_COMMIT")
            .filter(|c| !c.is_empty())
            .unwrap_or(concat!("v", env!("CARGO_PKG_VERSION"))),
        hull_container::status::OCI_VERSION
    )
}

/// The root help. `program` is the name hull was called by (as urfave
/// shows `runc` under whatever name it was installed as).
pub fn app(program: &str) -> String {
    let mut t = format!(
        "NAME:\n   hull - {APP_USAGE}\n\nUSAGE:\n   {program} [global options] command [command options] [arguments...]\n\nVERSION:\n   {}\n\nCOMMANDS:",
        env!("CARGO_PKG_VERSION")
    );
    for c in commands::COMMANDS {
        t.push_str(&format!("\n   {}\t{}", c.name, c.usage));
    }
    t.push_str("\n   help, h\tShows a list of commands or help for one command");
    t.push_str("\n\nGLOBAL OPTIONS:");
    for f in GLOBAL_FLAGS.iter().filter(|f| !f.hidden) {
        t.push_str("\n   ");
        t.push_str(&flag_line(f));
    }
    t.push('\n');
    tabwrite(&t, 1, 2)
}

/// One command's help.
pub fn command(program: &str, c: &Command) -> String {
    let visible: Vec<&Flag> = c.flags.iter().filter(|f| !f.hidden).collect();
    let mut t = format!(
        "NAME:\n   {program} {} - {}\n\nUSAGE:\n   {program} {}",
        c.name, c.usage, c.name
    );
    if !visible.is_empty() {
        t.push_str(" [command options]");
    }
    t.push(' ');
    t.push_str(if c.args_usage.is_empty() {
        "[arguments...]"
    } else {
        c.args_usage
    });
    if !c.description.is_empty() {
        t.push_str("\n\nDESCRIPTION:\n   ");
        t.push_str(c.description);
    }
    if !visible.is_empty() {
        t.push_str("\n\nOPTIONS:\n   ");
        for f in visible {
            t.push_str(&flag_line(f));
            t.push_str("\n   ");
        }
    }
    t.push('\n');
    tabwrite(&t, 1, 2)
}

/// `--bundle value, -b value\tusage (default: …)`.
fn flag_line(f: &Flag) -> String {
    let placeholder = if f.kind == Kind::Bool { "" } else { " value" };
    let names: Vec<String> = f
        .names
        .iter()
        .map(|n| {
            let dashes = if n.len() == 1 { "-" } else { "--" };
            format!("{dashes}{n}{placeholder}")
        })
        .collect();
    let default = match (f.kind, f.default) {
        (Kind::Str, Some(d)) if !d.is_empty() => format!(" (default: {d:?})"),
        (Kind::Int, d) => format!(" (default: {})", d.unwrap_or("0")),
        (Kind::Duration, Some(d)) => format!(" (default: {d})"),
        _ => String::new(),
    };
    format!("{}\t{}{default}", names.join(", "), f.usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_lines_show_names_placeholders_and_defaults_as_urfave_does() {
        let bundle = Flag::new(&["bundle", "b"], Kind::Str, "path");
        assert_eq!(flag_line(&bundle), "--bundle value, -b value\tpath");
        let fds = Flag::new(&["preserve-fds"], Kind::Int, "pass N");
        assert_eq!(flag_line(&fds), "--preserve-fds value\tpass N (default: 0)");
        let fmt = Flag::new(&["format", "f"], Kind::Str, "select").default("table");
        assert_eq!(
            flag_line(&fmt),
            "--format value, -f value\tselect (default: \"table\")"
        );
        let tty = Flag::new(&["tty", "t"], Kind::Bool, "tty");
        assert_eq!(flag_line(&tty), "--tty, -t\ttty");
        let iv = Flag::new(&["interval"], Kind::Duration, "every").default("5s");
        assert_eq!(flag_line(&iv), "--interval value\tevery (default: 5s)");
    }

    #[test]
    fn every_command_help_starts_with_name_then_program_and_command() {
        for c in commands::COMMANDS {
            let text = command("hull", c);
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("NAME:"), "{}", c.name);
            assert!(
                lines
                    .next()
                    .is_some_and(|l| l.starts_with(&format!("   hull {} - ", c.name))),
                "{}",
                c.name
            );
        }
        let text = app("hull");
        assert!(text.starts_with("NAME:\n   hull - Open Container Initiative runtime\n"));
        assert!(text.contains("\n   --version, -v       print the version\n"));
    }

    #[test]
    fn version_has_runc_layout() {
        let v = version_text();
        let lines: Vec<&str> = v.lines().collect();
        assert!(lines[0].starts_with("hull version "));
        assert!(lines[1].starts_with("commit: "));
        assert_eq!(
            lines[2],
            format!("spec: {}", hull_container::status::OCI_VERSION)
        );
    }
}
