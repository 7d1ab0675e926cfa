//! Flag parsing with the rules runc's command line follows (Go's `flag`
//! package under urfave/cli v1), so that every invocation runc accepts
//! parses the same way here and every one it refuses is refused:
//! `-name` and `--name` are the same flag, `--name=value` and
//! `--name value` too (a value may start with `-`, as `--memory -1`),
//! booleans take `=false`, parsing stops at the first argument that is not a
//! flag or at `--`; a command's flags that come after its arguments are moved
//! in front of them first, except for `exec` and `ps`, whose trailing
//! arguments belong to the program they run.

/// How a flag takes its value; also what its help line shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Bool,
    /// A string; a non-empty default is shown quoted.
    Str,
    /// An integer (checked while parsing); its default is always shown.
    Int,
    /// A Go duration such as `100ms` or `1m30s` (checked while parsing).
    Duration,
    /// Repeatable; every occurrence is kept.
    List,
    /// Repeatable integers.
    IntList,
}

/// One flag: its names (the first is the long one it is known by), kind,
/// default and help text.
pub struct Flag {
    pub names: &'static [&'static str],
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub usage: &'static str,
    pub hidden: bool,
}

impl Flag {
    pub const fn new(names: &'static [&'static str], kind: Kind, usage: &'static str) -> Flag {
        Flag {
            names,
            kind,
            default: None,
            usage,
            hidden: false,
        }
    }

    pub const fn default(mut self, value: &'static str) -> Flag {
        self.default = Some(value);
        self
    }

    pub const fn hidden(mut self) -> Flag {
        self.hidden = true;
        self
    }

    pub fn name(&self) -> &'static str {
        self.names[0]
    }

    fn has_name(&self, name: &str) -> bool {
        self.names.contains(&name)
    }
}

/// What parsing found: the values given (by long name, in order) and the
/// arguments left over.
#[derive(Default, Debug)]
pub struct Parsed {
    values: Vec<(&'static str, String)>,
    pub args: Vec<String>,
}

impl Parsed {
    /// A boolean flag: its last value, false when absent.
    pub fn bool(&self, name: &str) -> bool {
        self.last(name).is_some_and(|v| parse_bool(v) == Some(true))
    }

    /// A single-valued flag: its last value, if given.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.last(name)
    }

    /// Every value of a repeatable flag, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn last(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why parsing failed, worded as runc words it.
#[derive(Debug, PartialEq, Eq)]
pub enum FlagError {
    NotDefined(String),
    NeedsArgument(String),
    BadSyntax(String),
    InvalidBool { value: String, name: String },
    InvalidValue { value: String, name: String },
    TwoForms { name: String, other: String },
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagError::NotDefined(n) => write!(f, "flag provided but not defined: -{n}"),
            FlagError::NeedsArgument(n) => write!(f, "flag needs an argument: -{n}"),
            FlagError::BadSyntax(s) => write!(f, "bad flag syntax: {s}"),
            FlagError::InvalidBool { value, name } => {
                write!(
                    f,
                    "invalid boolean value {value:?} for -{name}: parse error"
                )
            }
            FlagError::InvalidValue { value, name } => {
                write!(f, "invalid value {value:?} for flag -{name}: parse error")
            }
            FlagError::TwoForms { name, other } => {
                write!(f, "Cannot use two forms of the same flag: {name} {other}")
            }
        }
    }
}

/// Go's boolean syntax.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parses flags from the front of `args` until the first non-flag argument
/// or `--`; what follows is left in `Parsed::args`.
pub fn parse(flags: &[&Flag], args: &[String]) -> Result<Parsed, FlagError> {
    let mut out = Parsed::default();
    // Which of its names each flag was given by, to refuse two forms.
    let mut used: Vec<(&'static str, &str)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let s = args[i].as_str();
        if s.len() < 2 || !s.starts_with('-') {
            break;
        }
        let mut name = &s[1..];
        if let Some(rest) = name.strip_prefix('-') {
            if rest.is_empty() {
                i += 1;
                break;
            }
            name = rest;
        }
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(FlagError::BadSyntax(s.to_string()));
        }
        i += 1;
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (name, None),
        };
        let Some(flag) = flags.iter().find(|f| f.has_name(name)) else {
            return Err(FlagError::NotDefined(name.to_string()));
        };
        let value = match (flag.kind, inline) {
            (Kind::Bool, Some(v)) => {
                if parse_bool(v).is_none() {
                    return Err(FlagError::InvalidBool {
                        value: v.to_string(),
                        name: name.to_string(),
                    });
                }
                v.to_string()
            }
            (Kind::Bool, None) => "true".to_string(),
            (_, Some(v)) => v.to_string(),
            (_, None) => {
                let Some(v) = args.get(i) else {
                    return Err(FlagError::NeedsArgument(name.to_string()));
                };
                i += 1;
                v.clone()
            }
        };
        let valid = match flag.kind {
            Kind::Int | Kind::IntList => value.parse::<i64>().is_ok(),
            Kind::Duration => parse_duration(&value).is_some(),
            _ => true,
        };
        if !valid {
            return Err(FlagError::InvalidValue {
                value,
                name: name.to_string(),
            });
        }
        if !used
            .iter()
            .any(|(n, given)| *n == flag.name() && *given == name)
        {
            used.push((flag.name(), name));
        }
        out.values.push((flag.name(), value));
    }
    check_two_forms(flags, &used)?;
    out.args = args[i..].to_vec();
    Ok(out)
}

/// A flag given by two of its names is refused, naming both (in the order
/// the flag declares them).
fn check_two_forms(flags: &[&Flag], used: &[(&'static str, &str)]) -> Result<(), FlagError> {
    for flag in flags {
        let mut first: Option<&str> = None;
        for name in flag.names {
            if used
                .iter()
                .any(|(n, given)| *n == flag.name() && given == name)
            {
                if let Some(other) = first {
                    return Err(FlagError::TwoForms {
                        name: (*name).to_string(),
                        other: other.to_string(),
                    });
                }
                first = Some(name);
            }
        }
    }
    Ok(())
}

/// Moves a command's flags (and the value after each) in front of its
/// other arguments; `--` and what follows stay last.
pub fn reorder(flags: &[&Flag], args: &[String]) -> Vec<String> {
    let mut flags_first = Vec::new();
    let mut rest: Vec<String> = Vec::new();
    let mut may_be_value = false;
    for (i, arg) in args.iter().enumerate() {
        if may_be_value && !is_flag(flags, arg) {
            may_be_value = false;
            flags_first.push(arg.clone());
        } else if arg == "--" {
            rest.insert(0, arg.clone());
            rest.extend(args[i + 1..].iter().cloned());
            break;
        } else if is_flag(flags, arg) {
            may_be_value = !arg.contains('=');
            flags_first.push(arg.clone());
        } else {
            rest.push(arg.clone());
        }
    }
    flags_first.extend(rest);
    flags_first
}

fn is_flag(flags: &[&Flag], arg: &str) -> bool {
    if arg == "-" || arg == "--" {
        return false;
    }
    let Some(name) = arg.strip_prefix('-') else {
        return false;
    };
    let name = name.strip_prefix('-').unwrap_or(name);
    let name = name.split('=').next().unwrap_or(name);
    flags.iter().any(|f| f.has_name(name))
}

/// Go's `time.ParseDuration`, in signed nanoseconds: a sequence of decimal
/// numbers with units (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), optionally
/// signed; `0` alone.
pub fn parse_duration(s: &str) -> Option<i128> {
    let (sign, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        nanos += value * scale;
    }
    // Go refuses what does not fit an int64 of nanoseconds.
    if !nanos.is_finite() || nanos > i64::MAX as f64 {
        return None;
    }
    Some((sign * nanos) as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE: Flag = Flag::new(&["bundle", "b"], Kind::Str, "");
    const NO_PIVOT: Flag = Flag::new(&["no-pivot"], Kind::Bool, "");
    const FDS: Flag = Flag::new(&["preserve-fds"], Kind::Int, "");
    const ENV: Flag = Flag::new(&["env", "e"], Kind::List, "");
    const ALL: &[&Flag] = &[&BUNDLE, &NO_PIVOT, &FDS, &ENV];

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn one_or_two_dashes_equals_or_next_argument() {
        for line in [
            "-bundle b x",
            "--bundle b x",
            "--bundle=b x",
            "-b=b x",
            "-b b x",
        ] {
            let p = parse(ALL, &args(line)).expect(line);
            assert_eq!(p.str("bundle"), Some("b"), "{line}");
            assert_eq!(p.args, vec!["x"], "{line}");
        }
    }

    #[test]
    fn a_value_may_start_with_a_dash() {
        let p = parse(ALL, &args("--bundle -h x")).expect("parse");
        assert_eq!(p.str("bundle"), Some("-h"));
        let p = parse(ALL, &args("--preserve-fds -1 x")).expect("parse");
        assert_eq!(p.str("preserve-fds"), Some("-1"));
    }

    #[test]
    fn booleans_take_go_values_only_after_equals() {
        let p = parse(ALL, &args("--no-pivot=false x")).expect("parse");
        assert!(!p.bool("no-pivot"));
        let p = parse(ALL, &args("--no-pivot false")).expect("parse");
        assert!(p.bool("no-pivot"));
        assert_eq!(p.args, vec!["false"]);
        assert_eq!(
            parse(ALL, &args("--no-pivot=yes")).map(|_| ()),
            Err(FlagError::InvalidBool {
                value: "yes".into(),
                name: "no-pivot".into()
            })
        );
    }

    #[test]
    fn errors_are_worded_as_runc_words_them() {
        let e = |line: &str| parse(ALL, &args(line)).map(|_| ()).unwrap_err().to_string();
        assert_eq!(e("-v"), "flag provided but not defined: -v");
        assert_eq!(e("--bogus=1"), "flag provided but not defined: -bogus");
        assert_eq!(e("--bundle"), "flag needs an argument: -bundle");
        assert_eq!(e("---x"), "bad flag syntax: ---x");
        assert_eq!(
            e("--preserve-fds x"),
            "invalid value \"x\" for flag -preserve-fds: parse error"
        );
        assert_eq!(
            e("-b x --bundle y"),
            "Cannot use two forms of the same flag: b bundle"
        );
    }

    #[test]
    fn parsing_stops_at_the_first_argument_or_double_dash() {
        let p = parse(ALL, &args("x --no-pivot")).expect("parse");
        assert!(!p.bool("no-pivot"));
        assert_eq!(p.args, vec!["x", "--no-pivot"]);
        let p = parse(ALL, &args("-- --no-pivot")).expect("parse");
        assert_eq!(p.args, vec!["--no-pivot"]);
        let p = parse(ALL, &args("- x")).expect("parse");
        assert_eq!(p.args, vec!["-", "x"]);
    }

    #[test]
    fn repeated_list_flags_keep_every_value() {
        let p = parse(ALL, &args("-e A=1 -e B=2 x")).expect("parse");
        assert_eq!(p.all("env"), vec!["A=1", "B=2"]);
    }

    #[test]
    fn reorder_moves_flags_before_arguments_as_urfave_does() {
        assert_eq!(reorder(ALL, &args("id --bundle b")), args("--bundle b id"));
        // A boolean flag takes the next argument along: runc then finds
        // the later flags among its arguments (and refuses the count).
        assert_eq!(
            reorder(ALL, &args("--no-pivot id --bundle b")),
            args("--no-pivot id --bundle b")
        );
        assert_eq!(
            reorder(ALL, &args("id -- --bundle b")),
            args("-- id --bundle b")
        );
        assert_eq!(reorder(ALL, &args("id -x")), args("id -x"));
    }

    #[test]
    fn durations_parse_as_go_does() {
        assert_eq!(parse_duration("100ms"), Some(100_000_000));
        assert_eq!(parse_duration("1s"), Some(1_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("-2us"), Some(-2000));
        assert_eq!(parse_duration("3\u{b5}s"), Some(3000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1x"), None);
    }
}
