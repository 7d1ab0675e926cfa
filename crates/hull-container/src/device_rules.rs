//! The device cgroup rules hull applies: the config's `linux.resources.devices`
//! followed, as runc does, by allow rules for the default devices, the pty
//! devices, mknod of any node, and every `linux.devices` entry; otherwise a
//! deny-all rule in the config would keep the init from creating /dev.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, Spec};

/// (type, major, minor); None is the `*` wildcard. Access is always rwm,
/// except the first two, which only allow mknod.
const DEFAULT_ALLOWED: &[(LinuxDeviceType, Option<i64>, Option<i64>, &str)] = &[
    (LinuxDeviceType::C, None, None, "m"),
    (LinuxDeviceType::B, None, None, "m"),
    (LinuxDeviceType::C, Some(1), Some(3), "rwm"), // /dev/null
    (LinuxDeviceType::C, Some(1), Some(5), "rwm"), // /dev/zero
    (LinuxDeviceType::C, Some(1), Some(7), "rwm"), // /dev/full
    (LinuxDeviceType::C, Some(1), Some(8), "rwm"), // /dev/random
    (LinuxDeviceType::C, Some(1), Some(9), "rwm"), // /dev/urandom
    (LinuxDeviceType::C, Some(5), Some(0), "rwm"), // /dev/tty
    (LinuxDeviceType::C, Some(5), Some(1), "rwm"), // /dev/console
    (LinuxDeviceType::C, Some(5), Some(2), "rwm"), // /dev/ptmx
    (LinuxDeviceType::C, Some(136), None, "rwm"),  // /dev/pts/*
];

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// The resources to apply at create: the config's, with the device rules
/// completed. None when the config sets no resources at all.
pub fn resources_for_create(spec: &Spec) -> Option<LinuxResources> {
    let linux = spec.linux().as_ref()?;
    let mut res = linux.resources().clone()?;
    let Some(rules) = res.devices().clone().filter(|d| !d.is_empty()) else {
        return Some(res);
    };
    let mut rules = rules;
    rules.extend(
        DEFAULT_ALLOWED
            .iter()
            .map(|(t, ma, mi, acc)| rule(*t, *ma, *mi, acc)),
    );
    for d in linux.devices().iter().flatten() {
        let typ = match d.typ() {
            LinuxDeviceType::U => LinuxDeviceType::C,
            t => t,
        };
        if typ == LinuxDeviceType::P {
            continue; // FIFOs are not subject to the device cgroup
        }
        rules.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
    }
    res.set_devices(Some(rules));
    Some(res)
}
