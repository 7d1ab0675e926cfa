//! hull's commands and flags, one table: what the parser accepts and what
//! `-h` shows, in runc's order and with runc's names, kinds and defaults
//! (runc 1.4's set, plus `--criu` of 1.1, hidden, and `kill --all` shown,
//! since hull honours it).

use crate::flags::{Flag, Kind};

/// How many arguments a command takes after its flags.
#[derive(Clone, Copy)]
pub enum Arity {
    Exactly(usize),
    AtLeast(usize),
    Between(usize, usize),
}

pub struct Command {
    pub name: &'static str,
    /// One line: the command list and the NAME section.
    pub usage: &'static str,
    /// After the command in the USAGE section.
    pub args_usage: &'static str,
    pub description: &'static str,
    pub flags: &'static [Flag],
    pub arity: Arity,
    /// Flags end at the first argument (the rest belongs to the program
    /// `exec` runs, or to ps(1)).
    pub flags_first: bool,
}

pub const HELP: Flag = Flag::new(&["help", "h"], Kind::Bool, "show help");
pub const VERSION: Flag = Flag::new(&["version", "v"], Kind::Bool, "print the version");

pub const GLOBAL_FLAGS: &[Flag] = &[
    Flag::new(&["debug"], Kind::Bool, "enable debug logging"),
    Flag::new(
        &["log"],
        Kind::Str,
        "file to write hull's log to (default: stderr)",
    ),
    Flag::new(
        &["log-format"],
        Kind::Str,
        "log format: 'text' or 'json'",
    )
    .default("text"),
    Flag::new(
        &["root"],
        Kind::Str,
        "directory that holds the state of the containers (best on a tmpfs)",
    )
    .default("/run/hull"),
    Flag::new(&["criu"], Kind::Str, "accepted and ignored (no checkpoint/restore)").hidden(),
    Flag::new(
        &["systemd-cgroup"],
        Kind::Bool,
        "manage cgroups through systemd; cgroupsPath is then \"slice:prefix:name\", e.g. \"system.slice:hull:434234\"",
    ),
    Flag::new(
        &["rootless"],
        Kind::Str,
        "ignore cgroup permission errors: 'true', 'false' or 'auto'",
    )
    .default("auto"),
    HELP,
    VERSION,
];

pub const APP_USAGE: &str = "Open Container Initiative runtime

hull runs containers from OCI bundles, with runc's command line: the same
commands, flags, output and exit statuses, so that containerd, podman, Docker
and scripts written for runc can use it in runc's place.

A bundle is a directory holding a \"config.json\" (the container's
specification; \"hull spec\" writes a starting one) and the root filesystem
it names.

To run a container from the bundle in the current directory:

    # hull run [ -b bundle ] <container-id>

The container ID is a name of your choosing, unique among the containers of
the state root (--root).";

const CONSOLE_SOCKET: Flag = Flag::new(
    &["console-socket"],
    Kind::Str,
    "path to an AF_UNIX socket that receives the master end of the container's pseudoterminal",
);
const PID_FILE: Flag = Flag::new(
    &["pid-file"],
    Kind::Str,
    "write the process id to this file",
);
const NO_PIVOT: Flag = Flag::new(
    &["no-pivot"],
    Kind::Bool,
    "chroot into the rootfs instead of pivot_root (for a rootfs on a ramdisk)",
);
const NO_NEW_KEYRING: Flag = Flag::new(
    &["no-new-keyring"],
    Kind::Bool,
    "keep the caller's session keyring instead of making a new one for the container",
);
const PRESERVE_FDS: Flag = Flag::new(
    &["preserve-fds"],
    Kind::Int,
    "pass N more file descriptors to the container (stdio + $LISTEN_FDS + N in total)",
);
const BUNDLE: Flag = Flag::new(
    &["bundle", "b"],
    Kind::Str,
    "path to the bundle directory, the current directory by default",
);
const DETACH: Flag = Flag::new(
    &["detach", "d"],
    Kind::Bool,
    "do not wait for the container's process",
);
const NO_SUBREAPER: Flag = Flag::new(
    &["no-subreaper"],
    Kind::Bool,
    "do not make hull a subreaper of the container's orphans",
);
const FORMAT: Flag =
    Flag::new(&["format", "f"], Kind::Str, "select one of: table or json").default("table");
const IMAGE_PATH: Flag = Flag::new(&["image-path"], Kind::Str, "directory of the CRIU images");
const WORK_PATH: Flag = Flag::new(
    &["work-path"],
    Kind::Str,
    "directory for CRIU's work files and logs",
);
const TCP_ESTABLISHED: Flag = Flag::new(
    &["tcp-established"],
    Kind::Bool,
    "allow open TCP connections",
);
const EXT_UNIX_SK: Flag = Flag::new(&["ext-unix-sk"], Kind::Bool, "allow external unix sockets");
const SHELL_JOB: Flag = Flag::new(&["shell-job"], Kind::Bool, "allow shell jobs");
const FILE_LOCKS: Flag = Flag::new(&["file-locks"], Kind::Bool, "handle file locks");
const MANAGE_CGROUPS: Flag = Flag::new(
    &["manage-cgroups-mode"],
    Kind::Str,
    "cgroups mode: soft|full|strict|ignore (default: soft)",
);
const EMPTY_NS: Flag = Flag::new(
    &["empty-ns"],
    Kind::List,
    "create this namespace without restoring its properties",
);
const AUTO_DEDUP: Flag = Flag::new(&["auto-dedup"], Kind::Bool, "deduplicate memory images");
const LAZY_PAGES: Flag = Flag::new(
    &["lazy-pages"],
    Kind::Bool,
    "restore memory pages lazily (userfaultfd)",
);

const CREATE_FLAGS: &[Flag] = &[
    BUNDLE,
    CONSOLE_SOCKET,
    Flag::new(
        &["pidfd-socket"],
        Kind::Str,
        "path to an AF_UNIX socket that receives a pidfd of the container's init",
    ),
    PID_FILE,
    NO_PIVOT,
    NO_NEW_KEYRING,
    PRESERVE_FDS,
];

const RUN_FLAGS: &[Flag] = &[
    BUNDLE,
    CONSOLE_SOCKET,
    Flag::new(
        &["pidfd-socket"],
        Kind::Str,
        "path to an AF_UNIX socket that receives a pidfd of the container's init",
    ),
    DETACH,
    Flag::new(
        &["keep"],
        Kind::Bool,
        "keep the container after its process exits",
    ),
    PID_FILE,
    NO_SUBREAPER,
    NO_PIVOT,
    NO_NEW_KEYRING,
    PRESERVE_FDS,
];

const EXEC_FLAGS: &[Flag] = &[
    CONSOLE_SOCKET,
    Flag::new(
        &["pidfd-socket"],
        Kind::Str,
        "path to an AF_UNIX socket that receives a pidfd of the new process",
    ),
    Flag::new(
        &["cwd"],
        Kind::Str,
        "working directory of the process in the container",
    ),
    Flag::new(
        &["env", "e"],
        Kind::List,
        "set an environment variable (NAME=value)",
    ),
    Flag::new(&["tty", "t"], Kind::Bool, "give the process a pseudo-TTY"),
    Flag::new(&["user", "u"], Kind::Str, "UID (format: <uid>[:<gid>])"),
    Flag::new(
        &["additional-gids", "g"],
        Kind::IntList,
        "additional group IDs",
    ),
    Flag::new(&["process", "p"], Kind::Str, "path to a process.json"),
    DETACH,
    PID_FILE,
    Flag::new(
        &["process-label"],
        Kind::Str,
        "SELinux label of the process (accepted, not applied)",
    ),
    Flag::new(
        &["apparmor"],
        Kind::Str,
        "AppArmor profile of the process (accepted, not applied)",
    ),
    Flag::new(
        &["no-new-privs"],
        Kind::Bool,
        "set no_new_privs for the process",
    ),
    Flag::new(
        &["cap", "c"],
        Kind::List,
        "add a capability to the process's bounding, effective and permitted sets",
    ),
    PRESERVE_FDS,
    Flag::new(
        &["cgroup"],
        Kind::List,
        "run the process in an existing sub-cgroup of the container ([<controller>:]<cgroup>)",
    ),
    Flag::new(
        &["ignore-paused"],
        Kind::Bool,
        "allow exec in a paused container",
    ),
];

const UPDATE_FLAGS: &[Flag] = &[
    Flag::new(
        &["resources", "r"],
        Kind::Str,
        "path to a file with the new resources as OCI LinuxResources JSON, or '-' for the standard input; the other flags are then ignored",
    ),
    Flag::new(
        &["blkio-weight"],
        Kind::Int,
        "block IO weight of the cgroup, 10 to 1000",
    ),
    Flag::new(
        &["cpu-period"],
        Kind::Str,
        "CPU CFS period in microseconds (0: the system's default)",
    ),
    Flag::new(
        &["cpu-quota"],
        Kind::Str,
        "CPU CFS quota in microseconds per period",
    ),
    Flag::new(
        &["cpu-burst"],
        Kind::Str,
        "CPU CFS burst in microseconds: unused quota that may be spent later",
    ),
    Flag::new(
        &["cpu-share"],
        Kind::Str,
        "CPU shares (weight relative to other containers)",
    ),
    Flag::new(
        &["cpu-rt-period"],
        Kind::Str,
        "CPU realtime period in microseconds (0: the system's default)",
    ),
    Flag::new(
        &["cpu-rt-runtime"],
        Kind::Str,
        "CPU realtime runtime in microseconds per period",
    ),
    Flag::new(&["cpuset-cpus"], Kind::Str, "CPUs the container may use"),
    Flag::new(&["cpuset-mems"], Kind::Str, "memory nodes the container may use"),
    Flag::new(&["kernel-memory"], Kind::Str, "obsolete, ignored").hidden(),
    Flag::new(&["kernel-memory-tcp"], Kind::Str, "obsolete, ignored").hidden(),
    Flag::new(
        &["memory"],
        Kind::Str,
        "memory limit in bytes (k, m, g suffixes; -1: unlimited)",
    ),
    Flag::new(
        &["cpu-idle"],
        Kind::Str,
        "1: the cgroup runs as SCHED_IDLE, 0: as normal",
    ),
    Flag::new(
        &["memory-reservation"],
        Kind::Str,
        "memory soft limit in bytes",
    ),
    Flag::new(
        &["memory-swap"],
        Kind::Str,
        "memory plus swap limit in bytes; -1: unlimited swap",
    ),
    Flag::new(
        &["pids-limit"],
        Kind::Int,
        "maximum number of processes in the container",
    ),
    Flag::new(
        &["l3-cache-schema"],
        Kind::Str,
        "Intel RDT/CAT L3 cache schema",
    ),
    Flag::new(
        &["mem-bw-schema"],
        Kind::Str,
        "Intel RDT/MBA memory bandwidth schema",
    ),
];

const ID: &str = "<container-id>

Where \"<container-id>\" names the container.";

const NEW_ID: &str = "<container-id>

Where \"<container-id>\" is the name you give the new container; it must be
unique under the state root.";

pub const COMMANDS: &[Command] = &[
    Command {
        name: "checkpoint",
        usage: "checkpoint a running container",
        args_usage: ID,
        description: "Saves the state of the container with CRIU (not supported by hull yet).",
        flags: &[
            IMAGE_PATH,
            WORK_PATH,
            Flag::new(
                &["parent-path"],
                Kind::Str,
                "CRIU images of a previous pre-dump, relative to the image path",
            ),
            Flag::new(
                &["leave-running"],
                Kind::Bool,
                "keep the container running after the checkpoint",
            ),
            TCP_ESTABLISHED,
            Flag::new(
                &["tcp-skip-in-flight"],
                Kind::Bool,
                "skip TCP connections still being set up",
            ),
            Flag::new(
                &["link-remap"],
                Kind::Bool,
                "link unlinked files back where possible",
            ),
            EXT_UNIX_SK,
            SHELL_JOB,
            LAZY_PAGES,
            Flag::new(
                &["status-fd"],
                Kind::Int,
                "fd that CRIU writes \\0 to once lazy pages are ready",
            )
            .default("-1"),
            Flag::new(
                &["page-server"],
                Kind::Str,
                "ADDRESS:PORT of the page server",
            ),
            FILE_LOCKS,
            Flag::new(
                &["pre-dump"],
                Kind::Bool,
                "dump the memory only and leave the container running",
            ),
            MANAGE_CGROUPS,
            EMPTY_NS,
            AUTO_DEDUP,
        ],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "create",
        usage: "create a container",
        args_usage: NEW_ID,
        description: "Creates a container from a bundle: a directory holding \"config.json\" and
the root filesystem it names. The container's process, the \"process\" of
config.json, waits until \"hull start\" runs it.",
        flags: CREATE_FLAGS,
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "delete",
        usage: "delete any resources held by the container often used with detached container",
        args_usage: "<container-id>

Where \"<container-id>\" names the container.

EXAMPLE:
To remove a stopped container named \"web1\" and everything it holds:

       # hull delete web1",
        description: "",
        flags: &[Flag::new(
            &["force", "f"],
            Kind::Bool,
            "delete the container even if it is still running (SIGKILL)",
        )],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "events",
        usage: "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
        args_usage: ID,
        description: "Prints the container's statistics as JSON every interval (5 seconds by default)
and an event for every OOM kill, until the container stops.",
        flags: &[
            Flag::new(
                &["interval"],
                Kind::Duration,
                "time between two statistics events",
            )
            .default("5s"),
            Flag::new(
                &["stats"],
                Kind::Bool,
                "print the container's statistics once and exit",
            ),
        ],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "exec",
        usage: "execute new process inside the container",
        args_usage: "<container-id> <command> [command options]  || -p process.json <container-id>

Where \"<container-id>\" names the container and \"<command>\" is the program to
run in it, with its arguments. Without \"-p\", \"<command>\" is required.

EXAMPLE:
To list the processes of a container named \"web1\":

       # hull exec web1 ps",
        description: "",
        flags: EXEC_FLAGS,
        arity: Arity::AtLeast(1),
        flags_first: true,
    },
    Command {
        name: "kill",
        usage: "kill sends the specified signal (default: SIGTERM) to the container's init process",
        args_usage: "<container-id> [signal]

Where \"<container-id>\" names the container and \"[signal]\" is the signal to
send to its init, by name (KILL, SIGKILL) or number (9).

EXAMPLE:
To send KILL to the init of a container named \"web1\":

       # hull kill web1 KILL",
        description: "",
        flags: &[Flag::new(
            &["all", "a"],
            Kind::Bool,
            "send the signal to every process of the container",
        )],
        arity: Arity::Between(1, 2),
        flags_first: false,
    },
    Command {
        name: "list",
        usage: "lists containers started by hull with the given root",
        args_usage: "

The root is the global option \"--root\" (default: \"/run/hull\").

EXAMPLE 1:
To list the containers under the default root:
       # hull list

EXAMPLE 2:
To list the containers under another root:
       # hull --root value list",
        description: "",
        flags: &[
            FORMAT,
            Flag::new(&["quiet", "q"], Kind::Bool, "print the container IDs only"),
        ],
        arity: Arity::Exactly(0),
        flags_first: false,
    },
    Command {
        name: "pause",
        usage: "pause suspends all processes inside the container",
        args_usage: ID,
        description: "Freezes every process of the container (its cgroup's freezer).",
        flags: &[],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "ps",
        usage: "ps displays the processes running inside a container",
        args_usage: "<container-id> [ps options]",
        description: "",
        flags: &[FORMAT],
        arity: Arity::AtLeast(1),
        flags_first: true,
    },
    Command {
        name: "restore",
        usage: "restore a container from a previous checkpoint",
        args_usage: ID,
        description: "Restores a container saved by \"hull checkpoint\" (not supported by hull yet).",
        flags: &[
            CONSOLE_SOCKET,
            IMAGE_PATH,
            WORK_PATH,
            TCP_ESTABLISHED,
            EXT_UNIX_SK,
            SHELL_JOB,
            FILE_LOCKS,
            MANAGE_CGROUPS,
            Flag::new(&["bundle", "b"], Kind::Str, "path to the bundle directory"),
            DETACH,
            PID_FILE,
            NO_SUBREAPER,
            NO_PIVOT,
            EMPTY_NS,
            AUTO_DEDUP,
            LAZY_PAGES,
            Flag::new(
                &["lsm-profile"],
                Kind::Str,
                "LSM profile for the restored process (TYPE:NAME)",
            ),
            Flag::new(
                &["lsm-mount-context"],
                Kind::Str,
                "LSM mount context for the restore",
            ),
        ],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "resume",
        usage: "resumes all processes that have been previously paused",
        args_usage: ID,
        description: "Thaws the processes of a container that \"hull pause\" froze.",
        flags: &[],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "run",
        usage: "create and run a container",
        args_usage: NEW_ID,
        description: "Creates a container from a bundle and starts its process at once: \"hull
create\" and \"hull start\" in one. Without --detach, hull waits for the process
and exits with its exit status.",
        flags: RUN_FLAGS,
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "spec",
        usage: "create a new specification file",
        args_usage: "",
        description: "Writes a starting \"config.json\" into the bundle directory: the same document
\"runc spec\" writes, whose process runs \"sh\" with a terminal. Edit it for
the program and settings you want; --rootless writes one for a container
started without root privileges.

EXAMPLE:
    mkdir -p bundle/rootfs && cd bundle
    tar -C rootfs -xf rootfs.tar
    hull spec
    sed -i 's;\"sh\";\"/hello\";' config.json
    hull run container1",
        flags: &[
            Flag::new(&["bundle", "b"], Kind::Str, "path to the bundle directory"),
            Flag::new(
                &["rootless"],
                Kind::Bool,
                "write a configuration for a rootless container",
            ),
        ],
        arity: Arity::Exactly(0),
        flags_first: false,
    },
    Command {
        name: "start",
        usage: "executes the user defined process in a created container",
        args_usage: ID,
        description: "Runs the process of a container made by \"hull create\".",
        flags: &[],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "state",
        usage: "output the state of a container",
        args_usage: ID,
        description: "Prints the state of the container as JSON.",
        flags: &[],
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "update",
        usage: "update container resource constraints",
        args_usage: "<container-id>",
        description: "",
        flags: UPDATE_FLAGS,
        arity: Arity::Exactly(1),
        flags_first: false,
    },
    Command {
        name: "features",
        usage: "show the enabled features",
        args_usage: "",
        description: "Prints what hull supports as the JSON document of the runtime-spec's
features.md.",
        flags: &[],
        arity: Arity::Exactly(0),
        flags_first: false,
    },
];

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}
