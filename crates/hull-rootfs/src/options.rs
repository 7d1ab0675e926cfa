//! `mounts[].options` parsing: a static table maps each known option to its flag effect;
//! every other option becomes part of the filesystem data string.

use libc::c_ulong;

/// What one option does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// Adds mount flags.
    Set(c_ulong),
    /// Removes mount flags.
    Clear(c_ulong),
    /// A propagation change, applied in its own mount(2) call.
    Propagation(c_ulong),
    /// A recursive attribute change (`rro`, `rnosuid`, ...): mount_setattr(2) with
    /// `AT_RECURSIVE`, (attributes to set, attributes to clear).
    Recursive(u64, u64),
    /// Recognised but not supported (id-mapped mounts, tmpcopyup, ambiguous atime clears).
    Unsupported,
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

const TABLE: &[(&str, Effect)] = &[
    ("defaults", Effect::Clear(0)),
    ("ro", Effect::Set(libc::MS_RDONLY)),
    ("rw", Effect::Clear(libc::MS_RDONLY)),
    ("nosuid", Effect::Set(libc::MS_NOSUID)),
    ("suid", Effect::Clear(libc::MS_NOSUID)),
    ("nodev", Effect::Set(libc::MS_NODEV)),
    ("dev", Effect::Clear(libc::MS_NODEV)),
    ("noexec", Effect::Set(libc::MS_NOEXEC)),
    ("exec", Effect::Clear(libc::MS_NOEXEC)),
    ("sync", Effect::Set(libc::MS_SYNCHRONOUS)),
    ("async", Effect::Clear(libc::MS_SYNCHRONOUS)),
    ("dirsync", Effect::Set(libc::MS_DIRSYNC)),
    ("remount", Effect::Set(libc::MS_REMOUNT)),
    ("mand", Effect::Set(libc::MS_MANDLOCK)),
    ("nomand", Effect::Clear(libc::MS_MANDLOCK)),
    ("noatime", Effect::Set(libc::MS_NOATIME)),
    ("atime", Effect::Clear(libc::MS_NOATIME)),
    ("nodiratime", Effect::Set(libc::MS_NODIRATIME)),
    ("diratime", Effect::Clear(libc::MS_NODIRATIME)),
    ("relatime", Effect::Set(libc::MS_RELATIME)),
    ("norelatime", Effect::Clear(libc::MS_RELATIME)),
    ("strictatime", Effect::Set(libc::MS_STRICTATIME)),
    ("nostrictatime", Effect::Clear(libc::MS_STRICTATIME)),
    ("lazytime", Effect::Set(libc::MS_LAZYTIME)),
    ("nolazytime", Effect::Clear(libc::MS_LAZYTIME)),
    ("bind", Effect::Set(libc::MS_BIND)),
    ("rbind", Effect::Set(libc::MS_BIND | libc::MS_REC)),
    ("private", Effect::Propagation(libc::MS_PRIVATE)),
    (
        "rprivate",
        Effect::Propagation(libc::MS_PRIVATE | libc::MS_REC),
    ),
    ("shared", Effect::Propagation(libc::MS_SHARED)),
    (
        "rshared",
        Effect::Propagation(libc::MS_SHARED | libc::MS_REC),
    ),
    ("slave", Effect::Propagation(libc::MS_SLAVE)),
    ("rslave", Effect::Propagation(libc::MS_SLAVE | libc::MS_REC)),
    ("unbindable", Effect::Propagation(libc::MS_UNBINDABLE)),
    (
        "runbindable",
        Effect::Propagation(libc::MS_UNBINDABLE | libc::MS_REC),
    ),
    ("rro", Effect::Recursive(MOUNT_ATTR_RDONLY, 0)),
    ("rrw", Effect::Recursive(0, MOUNT_ATTR_RDONLY)),
    ("rnosuid", Effect::Recursive(MOUNT_ATTR_NOSUID, 0)),
    ("rsuid", Effect::Recursive(0, MOUNT_ATTR_NOSUID)),
    ("rnodev", Effect::Recursive(MOUNT_ATTR_NODEV, 0)),
    ("rdev", Effect::Recursive(0, MOUNT_ATTR_NODEV)),
    ("rnoexec", Effect::Recursive(MOUNT_ATTR_NOEXEC, 0)),
    ("rexec", Effect::Recursive(0, MOUNT_ATTR_NOEXEC)),
    ("rnodiratime", Effect::Recursive(MOUNT_ATTR_NODIRATIME, 0)),
    ("rdiratime", Effect::Recursive(0, MOUNT_ATTR_NODIRATIME)),
    ("rnosymfollow", Effect::Recursive(MOUNT_ATTR_NOSYMFOLLOW, 0)),
    ("rsymfollow", Effect::Recursive(0, MOUNT_ATTR_NOSYMFOLLOW)),
    // The atime modes are one field: setting one clears the whole mask.
    (
        "rrelatime",
        Effect::Recursive(MOUNT_ATTR_RELATIME, MOUNT_ATTR_ATIME_MASK),
    ),
    (
        "rnoatime",
        Effect::Recursive(MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME_MASK),
    ),
    (
        "rstrictatime",
        Effect::Recursive(MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME_MASK),
    ),
    ("rnorelatime", Effect::Unsupported),
    ("ratime", Effect::Unsupported),
    ("rnostrictatime", Effect::Unsupported),
    ("idmap", Effect::Unsupported),
    ("ridmap", Effect::Unsupported),
    ("tmpcopyup", Effect::Unsupported),
];

/// The parsed form of a mount's options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags for the mount call (including `MS_BIND`/`MS_REC` of bind/rbind).
    pub flags: c_ulong,
    /// Propagation changes in the order given, each applied by its own mount(2) call.
    pub propagation: Vec<c_ulong>,
    /// Filesystem-specific options joined with commas (the `data` argument of mount(2)).
    pub data: String,
    /// `MOUNT_ATTR_*` to set recursively after mounting (from `rro`, `rnosuid`, ...).
    pub rec_set: u64,
    /// `MOUNT_ATTR_*` to clear recursively after mounting.
    pub rec_clear: u64,
}

/// An option that is recognised but not supported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedOption(pub String);

impl MountOptions {
    /// Parses options in order; later options override earlier ones (`ro,rw` is rw).
    pub fn parse<S: AsRef<str>>(options: &[S]) -> Result<Self, UnsupportedOption> {
        let mut out = MountOptions::default();
        for opt in options {
            let opt = opt.as_ref();
            match TABLE.iter().find(|(name, _)| *name == opt).map(|(_, e)| *e) {
                Some(Effect::Set(f)) => out.flags |= f,
                Some(Effect::Clear(f)) => out.flags &= !f,
                Some(Effect::Propagation(f)) => out.propagation.push(f),
                Some(Effect::Recursive(set, clear)) => {
                    // A later option overrides an earlier one on the same attribute.
                    out.rec_set = (out.rec_set & !clear & !set) | set;
                    out.rec_clear = (out.rec_clear & !set) | clear;
                }
                Some(Effect::Unsupported) => return Err(UnsupportedOption(opt.to_owned())),
                None => {
                    if !out.data.is_empty() {
                        out.data.push(',');
                    }
                    out.data.push_str(opt);
                }
            }
        }
        Ok(out)
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
        let o =
            MountOptions::parse(&["nosuid", "noexec", "nodev", "mode=755", "size=65536k"]).unwrap();
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(o.propagation.is_empty());
        assert!(!o.is_bind());
    }

    #[test]
    fn later_option_wins() {
        let o = MountOptions::parse(&["ro", "rw", "noexec", "exec", "nosuid"]).unwrap();
        assert_eq!(o.flags, libc::MS_NOSUID);
        let o = MountOptions::parse(&["rw", "ro"]).unwrap();
        assert_eq!(o.flags, libc::MS_RDONLY);
    }

    #[test]
    fn bind_and_propagation() {
        let o = MountOptions::parse(&["rbind", "rprivate", "ro", "slave"]).unwrap();
        assert!(o.is_bind());
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
        assert_eq!(
            o.propagation,
            vec![libc::MS_PRIVATE | libc::MS_REC, libc::MS_SLAVE]
        );
        assert!(o.data.is_empty());
    }

    #[test]
    fn every_table_entry_is_recognised() {
        for (name, effect) in TABLE {
            let r = MountOptions::parse(&[*name]);
            match effect {
                Effect::Unsupported => assert_eq!(r, Err(UnsupportedOption(name.to_string()))),
                _ => {
                    let o = r.unwrap();
                    assert!(o.data.is_empty(), "{name} leaked into data");
                    if let Effect::Recursive(set, clear) = effect {
                        assert_eq!((o.rec_set, o.rec_clear), (*set, *clear), "{name}");
                    }
                }
            }
        }
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
        ])
        .unwrap();
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
        let o = MountOptions::parse(&["noatime", "atime", "async", "nostrictatime"]).unwrap();
        assert_eq!(o.flags, 0);
    }

    #[test]
    fn recursive_attributes() {
        let o = MountOptions::parse(&["rbind", "rro", "rnosuid", "rnoatime"]).unwrap();
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC);
        assert_eq!(
            o.rec_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.rec_clear, MOUNT_ATTR_ATIME_MASK);
        let o = MountOptions::parse(&["rro", "rrw"]).unwrap();
        assert_eq!((o.rec_set, o.rec_clear), (0, MOUNT_ATTR_RDONLY));
        let o = MountOptions::parse(&["rrw", "rro"]).unwrap();
        assert_eq!((o.rec_set, o.rec_clear), (MOUNT_ATTR_RDONLY, 0));
    }

    #[test]
    fn unknown_goes_to_data_unsupported_errors() {
        let o = MountOptions::parse(&["newinstance", "ptmxmode=0666", "gid=5"]).unwrap();
        assert_eq!(o.data, "newinstance,ptmxmode=0666,gid=5");
        assert_eq!(
            MountOptions::parse(&["idmap"]),
            Err(UnsupportedOption("idmap".into()))
        );
    }
}
