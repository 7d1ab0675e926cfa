//! `mounts[].options` parsing: a static table maps each known option to its flag effect;
//! every other option becomes part of the filesystem data string.

use libc::c_ulong;

/// What one option does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// Adds mount flags.
    Set(c_ulong),
    /// Removes mount flags, and remembers that they were asked off (a bind
    /// mount is then remounted even with no flag set, as runc does).
    Clear(c_ulong),
    /// A propagation change, applied in its own mount(2) call.
    Propagation(c_ulong),
    /// A recursive attribute (`rro`, `rnosuid`, ...) to set with
    /// mount_setattr(2) and `AT_RECURSIVE`.
    RecursiveSet(u64),
    /// A recursive attribute to clear (`rrw`, `rsuid`, ...).
    RecursiveClear(u64),
    /// `tmpcopyup`: a tmpfs starts with what its mount point held.
    CopyUp,
    /// `idmap` (false) or `ridmap` (true): an id-mapped bind mount, its
    /// submounts mapped too with `ridmap`.
    IdMap(bool),
}

/// `MOUNT_ATTR_*` of mount_setattr(2).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// Every option hull knows, with its effect; `features` lists the names.
const TABLE: &[(&str, Effect)] = &[
    ("async", Effect::Clear(libc::MS_SYNCHRONOUS)),
    ("atime", Effect::Clear(libc::MS_NOATIME)),
    ("bind", Effect::Set(libc::MS_BIND)),
    ("defaults", Effect::Clear(0)),
    ("dev", Effect::Clear(libc::MS_NODEV)),
    ("diratime", Effect::Clear(libc::MS_NODIRATIME)),
    ("dirsync", Effect::Set(libc::MS_DIRSYNC)),
    ("exec", Effect::Clear(libc::MS_NOEXEC)),
    ("idmap", Effect::IdMap(false)),
    ("iversion", Effect::Set(libc::MS_I_VERSION)),
    ("lazytime", Effect::Set(libc::MS_LAZYTIME)),
    ("loud", Effect::Clear(libc::MS_SILENT)),
    ("mand", Effect::Set(libc::MS_MANDLOCK)),
    ("noatime", Effect::Set(libc::MS_NOATIME)),
    ("nodev", Effect::Set(libc::MS_NODEV)),
    ("nodiratime", Effect::Set(libc::MS_NODIRATIME)),
    ("noexec", Effect::Set(libc::MS_NOEXEC)),
    ("noiversion", Effect::Clear(libc::MS_I_VERSION)),
    ("nolazytime", Effect::Clear(libc::MS_LAZYTIME)),
    ("nomand", Effect::Clear(libc::MS_MANDLOCK)),
    ("norelatime", Effect::Clear(libc::MS_RELATIME)),
    ("nostrictatime", Effect::Clear(libc::MS_STRICTATIME)),
    ("nosuid", Effect::Set(libc::MS_NOSUID)),
    ("nosymfollow", Effect::Set(libc::MS_NOSYMFOLLOW)),
    ("private", Effect::Propagation(libc::MS_PRIVATE)),
    ("ratime", Effect::RecursiveClear(MOUNT_ATTR_NOATIME)),
    ("rbind", Effect::Set(libc::MS_BIND | libc::MS_REC)),
    ("rdev", Effect::RecursiveClear(MOUNT_ATTR_NODEV)),
    ("rdiratime", Effect::RecursiveClear(MOUNT_ATTR_NODIRATIME)),
    ("relatime", Effect::Set(libc::MS_RELATIME)),
    ("remount", Effect::Set(libc::MS_REMOUNT)),
    ("rexec", Effect::RecursiveClear(MOUNT_ATTR_NOEXEC)),
    ("ridmap", Effect::IdMap(true)),
    ("rnoatime", Effect::RecursiveSet(MOUNT_ATTR_NOATIME)),
    ("rnodev", Effect::RecursiveSet(MOUNT_ATTR_NODEV)),
    ("rnodiratime", Effect::RecursiveSet(MOUNT_ATTR_NODIRATIME)),
    ("rnoexec", Effect::RecursiveSet(MOUNT_ATTR_NOEXEC)),
    ("rnorelatime", Effect::RecursiveClear(MOUNT_ATTR_RELATIME)),
    (
        "rnostrictatime",
        Effect::RecursiveClear(MOUNT_ATTR_STRICTATIME),
    ),
    ("rnosuid", Effect::RecursiveSet(MOUNT_ATTR_NOSUID)),
    ("rnosymfollow", Effect::RecursiveSet(MOUNT_ATTR_NOSYMFOLLOW)),
    ("ro", Effect::Set(libc::MS_RDONLY)),
    (
        "rprivate",
        Effect::Propagation(libc::MS_PRIVATE | libc::MS_REC),
    ),
    ("rrelatime", Effect::RecursiveSet(MOUNT_ATTR_RELATIME)),
    ("rro", Effect::RecursiveSet(MOUNT_ATTR_RDONLY)),
    ("rrw", Effect::RecursiveClear(MOUNT_ATTR_RDONLY)),
    (
        "rshared",
        Effect::Propagation(libc::MS_SHARED | libc::MS_REC),
    ),
    ("rslave", Effect::Propagation(libc::MS_SLAVE | libc::MS_REC)),
    ("rstrictatime", Effect::RecursiveSet(MOUNT_ATTR_STRICTATIME)),
    ("rsuid", Effect::RecursiveClear(MOUNT_ATTR_NOSUID)),
    ("rsymfollow", Effect::RecursiveClear(MOUNT_ATTR_NOSYMFOLLOW)),
    (
        "runbindable",
        Effect::Propagation(libc::MS_UNBINDABLE | libc::MS_REC),
    ),
    ("rw", Effect::Clear(libc::MS_RDONLY)),
    ("shared", Effect::Propagation(libc::MS_SHARED)),
    ("silent", Effect::Set(libc::MS_SILENT)),
    ("slave", Effect::Propagation(libc::MS_SLAVE)),
    ("strictatime", Effect::Set(libc::MS_STRICTATIME)),
    ("suid", Effect::Clear(libc::MS_NOSUID)),
    ("symfollow", Effect::Clear(libc::MS_NOSYMFOLLOW)),
    ("sync", Effect::Set(libc::MS_SYNCHRONOUS)),
    ("tmpcopyup", Effect::CopyUp),
    ("unbindable", Effect::Propagation(libc::MS_UNBINDABLE)),
];

/// The option names hull supports, sorted (`features`' `mountOptions`).
pub fn supported() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(name, _)| *name)
}

/// The parsed form of a mount's options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags for the mount call (including `MS_BIND`/`MS_REC` of bind/rbind).
    pub flags: c_ulong,
    /// `MS_*` flags asked off (`rw`, `dev`, ...) and not set again later.
    pub cleared: c_ulong,
    /// Propagation changes in the order given, each applied by its own mount(2) call.
    pub propagation: Vec<c_ulong>,
    /// Filesystem-specific options joined with commas (the `data` argument of mount(2)).
    pub data: String,
    /// `MOUNT_ATTR_*` to set recursively after mounting (from `rro`, `rnosuid`, ...).
    pub rec_set: u64,
    /// `MOUNT_ATTR_*` to clear recursively after mounting.
    pub rec_clear: u64,
    /// `tmpcopyup`.
    pub copy_up: bool,
    /// `idmap` (`Some(false)`) or `ridmap` (`Some(true)`).
    pub idmap: Option<bool>,
}

impl MountOptions {
    /// Parses options in order; later options override earlier ones (`ro,rw` is rw).
    pub fn parse<S: AsRef<str>>(options: &[S]) -> Self {
        let mut out = MountOptions::default();
        for opt in options {
            let opt = opt.as_ref();
            let effect = TABLE
                .binary_search_by(|(name, _)| (*name).cmp(opt))
                .ok()
                .map(|i| TABLE[i].1);
            match effect {
                Some(Effect::Set(f)) => {
                    out.flags |= f;
                    out.cleared &= !f;
                }
                Some(Effect::Clear(f)) => {
                    out.flags &= !f;
                    out.cleared |= f;
                }
                Some(Effect::Propagation(f)) => out.propagation.push(f),
                Some(Effect::RecursiveSet(a)) => out.recursive(a, true),
                Some(Effect::RecursiveClear(a)) => out.recursive(a, false),
                Some(Effect::CopyUp) => out.copy_up = true,
                Some(Effect::IdMap(recursive)) => out.idmap = Some(recursive),
                None => {
                    if !out.data.is_empty() {
                        out.data.push(',');
                    }
                    out.data.push_str(opt);
                }
            }
        }
        out
    }

    /// A later option overrides an earlier one on the same attribute. The
    /// atime modes are one field, which mount_setattr(2) only changes when
    /// the whole field is in the clear set: any of them (`ratime`,
    /// `rnorelatime` and `rnostrictatime` included, as with runc: they
    /// leave relatime) clears the field.
    fn recursive(&mut self, attr: u64, set: bool) {
        if set {
            self.rec_set |= attr;
            self.rec_clear &= !attr;
        } else {
            self.rec_clear |= attr;
            self.rec_set &= !attr;
        }
        if attr & MOUNT_ATTR_ATIME_MASK == attr {
            self.rec_clear |= MOUNT_ATTR_ATIME_MASK;
        }
    }

    /// True when recursive attributes must be applied with mount_setattr(2).
    pub fn has_recursive(&self) -> bool {
        self.rec_set != 0 || self.rec_clear != 0
    }

    /// True when the options ask for a bind mount (`bind` or `rbind`).
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_data() {
        let o = MountOptions::parse(&["nosuid", "noexec", "nodev", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(o.propagation.is_empty());
        assert!(!o.is_bind());
    }

    #[test]
    fn later_option_wins() {
        let o = MountOptions::parse(&["ro", "rw", "noexec", "exec", "nosuid"]);
        assert_eq!(o.flags, libc::MS_NOSUID);
        let o = MountOptions::parse(&["rw", "ro"]);
        assert_eq!(o.flags, libc::MS_RDONLY);
    }

    #[test]
    fn bind_and_propagation() {
        let o = MountOptions::parse(&["rbind", "rprivate", "ro", "slave"]);
        assert!(o.is_bind());
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
        assert_eq!(
            o.propagation,
            vec![libc::MS_PRIVATE | libc::MS_REC, libc::MS_SLAVE]
        );
        assert!(o.data.is_empty());
    }

    #[test]
    fn every_table_entry_is_recognised_and_the_table_is_sorted() {
        assert!(
            TABLE.windows(2).all(|w| w[0].0 < w[1].0),
            "TABLE not sorted"
        );
        for (name, effect) in TABLE {
            let o = MountOptions::parse(&[*name]);
            assert!(o.data.is_empty(), "{name} leaked into data ({effect:?})");
        }
    }

    #[test]
    fn recursive_atime_options_leave_relatime_as_runc() {
        for name in ["ratime", "rnorelatime", "rnostrictatime", "rrelatime"] {
            let o = MountOptions::parse(&[name]);
            assert_eq!(
                (o.rec_set, o.rec_clear & MOUNT_ATTR_ATIME_MASK),
                (0, MOUNT_ATTR_ATIME_MASK),
                "{name}"
            );
        }
        let o = MountOptions::parse(&["rstrictatime"]);
        assert_eq!(o.rec_set, MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.rec_clear, MOUNT_ATTR_ATIME_MASK);
        let o = MountOptions::parse(&["rnodiratime"]);
        assert_eq!((o.rec_set, o.rec_clear), (MOUNT_ATTR_NODIRATIME, 0));
    }

    #[test]
    fn cleared_flags_are_remembered_until_set_again() {
        let o = MountOptions::parse(&["bind", "dev", "exec"]);
        assert_eq!(o.flags, libc::MS_BIND);
        assert_eq!(o.cleared, libc::MS_NODEV | libc::MS_NOEXEC);
        let o = MountOptions::parse(&["rw", "ro"]);
        assert_eq!((o.flags, o.cleared), (libc::MS_RDONLY, 0));
    }

    #[test]
    fn tmpcopyup_and_symfollow() {
        let o = MountOptions::parse(&["tmpcopyup", "mode=755"]);
        assert!(o.copy_up);
        assert_eq!(o.data, "mode=755");
        let o = MountOptions::parse(&["nosymfollow"]);
        assert_eq!(o.flags, libc::MS_NOSYMFOLLOW);
    }

    #[test]
    fn atime_family() {
        let o = MountOptions::parse(&[
            "noatime",
            "nodiratime",
            "relatime",
            "strictatime",
            "lazytime",
            "sync",
            "dirsync",
            "mand",
            "remount",
        ]);
        assert_eq!(
            o.flags,
            libc::MS_NOATIME
                | libc::MS_NODIRATIME
                | libc::MS_RELATIME
                | libc::MS_STRICTATIME
                | libc::MS_LAZYTIME
                | libc::MS_SYNCHRONOUS
                | libc::MS_DIRSYNC
                | libc::MS_MANDLOCK
                | libc::MS_REMOUNT
        );
        let o = MountOptions::parse(&["noatime", "atime", "async", "nostrictatime"]);
        assert_eq!(o.flags, 0);
    }

    #[test]
    fn recursive_attributes() {
        let o = MountOptions::parse(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC);
        assert_eq!(
            o.rec_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.rec_clear, MOUNT_ATTR_ATIME_MASK);
        let o = MountOptions::parse(&["rro", "rrw"]);
        assert_eq!((o.rec_set, o.rec_clear), (0, MOUNT_ATTR_RDONLY));
        let o = MountOptions::parse(&["rrw", "rro"]);
        assert_eq!((o.rec_set, o.rec_clear), (MOUNT_ATTR_RDONLY, 0));
    }

    #[test]
    fn unknown_goes_to_data_idmap_is_a_flag() {
        let o = MountOptions::parse(&["newinstance", "ptmxmode=0666", "gid=5"]);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,gid=5");
        assert_eq!(MountOptions::parse(&["bind", "idmap"]).idmap, Some(false));
        assert_eq!(MountOptions::parse(&["rbind", "ridmap"]).idmap, Some(true));
        assert_eq!(MountOptions::parse(&["rbind"]).idmap, None);
    }
}
