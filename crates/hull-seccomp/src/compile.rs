//! OCI `linux.seccomp` -> classic BPF.
//!
//! Layout of the program:
//!
//! ```text
//!   ld arch; jeq AUDIT_1 -> block_1; jeq AUDIT_2 -> block_2; ...; ret BAD_ARCH
//! block_n:
//!   ld nr; binary search (jge) over intervals of syscall numbers; each leaf is
//!   either `ret ACTION` (runs of syscalls with the same unconditional action
//!   and the gaps between them, which get the default action, are merged) or
//!   the rule chain of one syscall.
//! ```
//!
//! A syscall's rules are tried in profile order; the first whose argument
//! conditions all hold decides, and if none does the default action applies.
//! A rule that compares the same argument twice is split into one rule per
//! condition (OR), as runc does.

use libc::sock_filter;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompOperator as Op,
};

use crate::action::{self, BAD_ARCH};
use crate::arch::{self, ArchSpec, ARCHES};
use crate::bpf::{off_arg_hi, off_arg_lo, Asm, Cmp, Label, BPF_MAXINSNS, OFF_ARCH, OFF_NR};
use crate::SeccompError;

/// Syscalls take at most six arguments.
const MAX_ARGS: usize = 6;

/// A compiled filter program.
#[derive(Clone)]
pub struct Program {
    insns: Vec<sock_filter>,
}

impl Program {
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    pub fn instructions(&self) -> &[sock_filter] {
        &self.insns
    }

    /// The instructions as bytes (8 per instruction, native byte order),
    /// to hand the program to another process.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.insns.len() * INSN_BYTES);
        for i in &self.insns {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }

    /// The program [`Program::to_bytes`] gave; `None` for bytes that are
    /// not a whole number of instructions, or too many of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Program> {
        if !bytes.len().is_multiple_of(INSN_BYTES) || bytes.len() / INSN_BYTES > BPF_MAXINSNS {
            return None;
        }
        let insns = bytes
            .chunks_exact(INSN_BYTES)
            .map(|c| sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Program { insns })
    }
}

/// Size of one `sock_filter` on the wire.
const INSN_BYTES: usize = 8;

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Program ({} instructions)", self.insns.len())?;
        for (i, ins) in self.insns.iter().enumerate() {
            writeln!(
                f,
                "{i:4}: code={:#06x} jt={:3} jf={:3} k={:#010x}",
                ins.code, ins.jt, ins.jf, ins.k
            )?;
        }
        Ok(())
    }
}

/// The result of [`compile`]: everything [`crate::install`] needs.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub program: Program,
    /// `SECCOMP_FILTER_FLAG_*` bits for seccomp(2), including NEW_LISTENER
    /// (and TSYNC_ESRCH with TSYNC) when a rule uses SCMP_ACT_NOTIFY.
    pub flags: libc::c_ulong,
    /// Some rule uses SCMP_ACT_NOTIFY: installing returns a listener fd.
    pub notify: bool,
    /// Things skipped, as runc logs them (unknown syscall names, ...).
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy)]
struct Rule<'a> {
    action: u32,
    conds: &'a [LinuxSeccompArg],
}

enum Leaf<'r, 'a> {
    Ret(u32),
    Rules(&'r [Rule<'a>]),
}

/// One architecture's rules by syscall number, rules of one number in
/// profile order. Collected in one Vec and sorted once: a map of Vecs cost
/// an allocation per syscall, half of the compile time of the default
/// profile.
#[derive(Default)]
struct RuleMap<'a> {
    /// (number, rule) as the profile lists them, until `finish`.
    entries: Vec<(u32, Rule<'a>)>,
    /// After `finish`: the rules, and per number its run of them.
    rules: Vec<Rule<'a>>,
    groups: Vec<(u32, std::ops::Range<usize>)>,
}

impl<'a> RuleMap<'a> {
    fn push(&mut self, nr: u32, rule: Rule<'a>) {
        self.entries.push((nr, rule));
    }

    fn finish(&mut self) {
        // Stable: rules of one syscall keep the profile's order.
        self.entries.sort_by_key(|(nr, _)| *nr);
        for run in self.entries.chunk_by(|a, b| a.0 == b.0) {
            let start = self.rules.len();
            self.rules.extend(run.iter().map(|(_, r)| *r));
            self.groups.push((run[0].0, start..self.rules.len()));
        }
        self.entries = Vec::new();
    }

    /// The numbers in `lo..=hi` that have rules, in order, with their rules.
    fn range(&self, lo: u32, hi: u32) -> impl Iterator<Item = (u32, &[Rule<'a>])> {
        let first = self.groups.partition_point(|(nr, _)| *nr < lo);
        self.groups[first..]
            .iter()
            .take_while(move |(nr, _)| *nr <= hi)
            .map(|(nr, r)| (*nr, &self.rules[r.clone()]))
    }
}

/// Compiles an OCI seccomp profile.
pub fn compile(profile: &LinuxSeccomp) -> Result<Compiled, SeccompError> {
    if profile.default_action() == Action::ScmpActNotify {
        return Err(SeccompError::NotifyDefault);
    }
    let default = action::encode(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultAction",
    )?;
    let mut warnings = Vec::new();
    let arches = select_arches(profile, &mut warnings);
    let rules = collect_rules(profile, &arches, &mut warnings)?;
    let notify = profile
        .syscalls()
        .iter()
        .flatten()
        .any(|s| s.action() == Action::ScmpActNotify);
    let flags = filter_flags(profile, notify, &mut warnings)?;
    let insns = emit_program(&arches, &rules, default)?;
    Ok(Compiled {
        program: Program { insns },
        flags,
        notify,
        warnings,
    })
}

/// The native architecture plus the listed ones that have a syscall table.
fn select_arches(profile: &LinuxSeccomp, warnings: &mut Vec<String>) -> Vec<&'static ArchSpec> {
    let mut arches: Vec<&'static ArchSpec> = Vec::new();
    let listed = profile.architectures().iter().flatten().copied();
    for a in std::iter::once(arch::native()).chain(listed) {
        let a = if a == Arch::ScmpArchNative {
            arch::native()
        } else {
            a
        };
        match arch::spec(a) {
            Some(s) if !arches.iter().any(|x| x.arch == s.arch) => arches.push(s),
            Some(_) => {}
            None => warnings.push(format!(
                "architecture {a} has no syscall table in hull: left out of the filter, \
                 its syscalls get the bad-architecture action (kill)"
            )),
        }
    }
    arches
}

/// Per architecture (parallel to `arches`): syscall number -> rules in profile order.
fn collect_rules<'p>(
    profile: &'p LinuxSeccomp,
    arches: &[&'static ArchSpec],
    warnings: &mut Vec<String>,
) -> Result<Vec<RuleMap<'p>>, SeccompError> {
    let mut rules: Vec<RuleMap<'p>> = arches.iter().map(|_| RuleMap::default()).collect();
    for (i, sc) in profile.syscalls().iter().flatten().enumerate() {
        let what = format!("syscalls[{i}]");
        let act = action::encode(sc.action(), sc.errno_ret(), &what)?;
        let conds: &[LinuxSeccompArg] = sc.args().as_deref().unwrap_or(&[]);
        if conds.len() > MAX_ARGS {
            return Err(SeccompError::TooManyArgs {
                what,
                count: conds.len(),
            });
        }
        if let Some(c) = conds.iter().find(|c| c.index() >= MAX_ARGS) {
            return Err(SeccompError::ArgIndex {
                what,
                index: c.index(),
            });
        }
        if sc.names().is_empty() {
            warnings.push(format!("{what} has no syscall names, skipped"));
        }
        // As runc: a rule comparing one argument more than once becomes one
        // rule per condition (OR), since libseccomp cannot express it.
        let repeated = (0..MAX_ARGS).any(|i| conds.iter().filter(|c| c.index() == i).count() > 1);
        let split: Vec<&[LinuxSeccompArg]> = if repeated {
            conds.iter().map(std::slice::from_ref).collect()
        } else {
            vec![conds]
        };
        for name in sc.names() {
            let mut found = false;
            for (a, per_arch) in arches.iter().zip(rules.iter_mut()) {
                if let Some(nr) = a.lookup(name) {
                    found = true;
                    for &conds in &split {
                        per_arch.push(nr, Rule { action: act, conds });
                    }
                }
            }
            if !found {
                warnings.push(format!("unknown syscall {name:?} in {what}, skipped"));
            }
        }
    }
    for per_arch in &mut rules {
        per_arch.finish();
    }
    Ok(rules)
}

/// `SECCOMP_FILTER_FLAG_*` bits for the profile's flags and its use of NOTIFY.
fn filter_flags(
    profile: &LinuxSeccomp,
    notify: bool,
    warnings: &mut Vec<String>,
) -> Result<libc::c_ulong, SeccompError> {
    let mut flags: libc::c_ulong = 0;
    for f in profile.flags().iter().flatten() {
        flags |= action::flag_bit(*f)?;
    }
    if notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            // TSYNC and NEW_LISTENER together are only accepted with TSYNC_ESRCH.
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    } else if flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 {
        warnings.push(
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV without an SCMP_ACT_NOTIFY rule: ignored"
                .to_string(),
        );
        flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    Ok(flags)
}

/// The architecture dispatch, then one syscall-number search per audit token.
fn emit_program(
    arches: &[&'static ArchSpec],
    rules: &[RuleMap],
    default: u32,
) -> Result<Vec<sock_filter>, SeccompError> {
    let mut asm = Asm::default();
    asm.load(OFF_ARCH);
    let mut audits: Vec<(u32, Label)> = Vec::new();
    for a in arches {
        if audits.iter().all(|(x, _)| *x != a.audit) {
            let block = asm.label();
            let next = asm.label();
            asm.jump(Cmp::Eq, a.audit, block, next);
            asm.bind(next);
            audits.push((a.audit, block));
        }
    }
    asm.ret(BAD_ARCH);
    for (audit, block) in audits {
        asm.bind(block);
        asm.load(OFF_NR);
        let (intervals, args32) = audit_intervals(audit, arches, rules, default);
        emit_tree(&mut asm, &intervals, default, args32);
    }
    asm.assemble()
}

/// Intervals of syscall numbers covering 0..=u32::MAX for one audit token. Every
/// ABI sharing the token owns a range of numbers; ranges of ABIs that are not in
/// the filter get the bad-architecture action.
fn audit_intervals<'r, 'a>(
    audit: u32,
    arches: &[&'static ArchSpec],
    rules: &'r [RuleMap<'a>],
    default: u32,
) -> (Vec<(u32, Leaf<'r, 'a>)>, bool) {
    let mut intervals: Vec<(u32, Leaf)> = Vec::new();
    let mut args32 = false;
    for spec in ARCHES.iter().filter(|s| s.audit == audit) {
        let (lo, hi) = spec.range;
        let Some(p) = arches.iter().position(|a| a.arch == spec.arch) else {
            push_ret(&mut intervals, lo, BAD_ARCH);
            continue;
        };
        args32 = spec.args32;
        let mut next = Some(lo);
        for (nr, rs) in rules[p].range(lo, hi) {
            if let Some(n) = next.filter(|&n| n < nr) {
                push_ret(&mut intervals, n, default);
            }
            match leaf(rs, default) {
                Leaf::Ret(k) => push_ret(&mut intervals, nr, k),
                l => intervals.push((nr, l)),
            }
            next = nr.checked_add(1);
        }
        if let Some(n) = next.filter(|&n| n <= hi) {
            push_ret(&mut intervals, n, default);
        }
    }
    let covered = ARCHES
        .iter()
        .filter(|s| s.audit == audit)
        .map(|s| s.range.1)
        .max();
    if covered < Some(u32::MAX) {
        // -1 (a syscall a tracer skipped) belongs to no ABI: the default action.
        push_ret(&mut intervals, u32::MAX, default);
    }
    (intervals, args32)
}

/// Appends an interval returning `k`, merged with the previous one if that returns `k` too.
fn push_ret(intervals: &mut Vec<(u32, Leaf)>, lo: u32, k: u32) {
    if !matches!(intervals.last(), Some((_, Leaf::Ret(prev))) if *prev == k) {
        intervals.push((lo, Leaf::Ret(k)));
    }
}

/// What one syscall's rules reduce to: rules after an unconditional one never run.
fn leaf<'r, 'a>(rs: &'r [Rule<'a>], default: u32) -> Leaf<'r, 'a> {
    let end = rs
        .iter()
        .position(|r| r.conds.is_empty())
        .map_or(rs.len(), |i| i + 1);
    let rs = &rs[..end];
    if rs.iter().all(|r| r.action == default) {
        return Leaf::Ret(default);
    }
    match rs {
        [r] if r.conds.is_empty() => Leaf::Ret(r.action),
        _ => Leaf::Rules(rs),
    }
}

/// Binary search over `intervals` (sorted, contiguous, accumulator = syscall number).
fn emit_tree(asm: &mut Asm, intervals: &[(u32, Leaf)], default: u32, args32: bool) {
    match intervals {
        [] => asm.ret(default),
        [(_, Leaf::Ret(k))] => asm.ret(*k),
        [(_, Leaf::Rules(rs))] => emit_rules(asm, rs, default, args32),
        _ => {
            let mid = intervals.len() / 2;
            let (left, right) = (asm.label(), asm.label());
            asm.jump(Cmp::Ge, intervals[mid].0, right, left);
            asm.bind(left);
            emit_tree(asm, &intervals[..mid], default, args32);
            asm.bind(right);
            emit_tree(asm, &intervals[mid..], default, args32);
        }
    }
}

fn emit_rules(asm: &mut Asm, rs: &[Rule], default: u32, args32: bool) {
    for r in rs {
        if r.conds.is_empty() {
            asm.ret(r.action);
            return;
        }
        let fail = asm.label();
        for c in r.conds {
            emit_cond(asm, c, fail, args32);
        }
        asm.ret(r.action);
        asm.bind(fail);
    }
    asm.ret(default);
}

/// Falls through if `c` holds, jumps to `fail` if not. 64-bit values are compared
/// high half first; with 32-bit arguments the high half is known to be zero.
fn emit_cond(asm: &mut Asm, c: &LinuxSeccompArg, fail: Label, args32: bool) {
    let (value, other) = match c.op() {
        // (arg & value) == valueTwo, as runc/libseccomp.
        Op::ScmpCmpMaskedEq => (c.value_two().unwrap_or(0), c.value()),
        _ => (c.value(), 0),
    };
    let (vhi, vlo) = ((value >> 32) as u32, value as u32);
    let (mhi, mlo) = ((other >> 32) as u32, other as u32);
    let ok = asm.label();

    if args32 {
        if vhi != 0 {
            // The high half (0) decides alone.
            match c.op() {
                Op::ScmpCmpNe | Op::ScmpCmpLt | Op::ScmpCmpLe => {}
                _ => asm.goto(fail),
            }
            asm.bind(ok);
            return;
        }
    } else {
        let next = asm.label();
        asm.load(off_arg_hi(c.index()));
        match c.op() {
            Op::ScmpCmpEq => asm.jump(Cmp::Eq, vhi, next, fail),
            Op::ScmpCmpNe => asm.jump(Cmp::Eq, vhi, next, ok),
            Op::ScmpCmpGt | Op::ScmpCmpGe => {
                let eq = asm.label();
                asm.jump(Cmp::Gt, vhi, ok, eq);
                asm.bind(eq);
                asm.jump(Cmp::Eq, vhi, next, fail);
            }
            Op::ScmpCmpLt | Op::ScmpCmpLe => {
                let eq = asm.label();
                asm.jump(Cmp::Gt, vhi, fail, eq);
                asm.bind(eq);
                asm.jump(Cmp::Eq, vhi, next, ok);
            }
            Op::ScmpCmpMaskedEq => {
                asm.and(mhi);
                asm.jump(Cmp::Eq, vhi, next, fail);
            }
        }
        asm.bind(next);
    }

    asm.load(off_arg_lo(c.index()));
    match c.op() {
        Op::ScmpCmpEq => asm.jump(Cmp::Eq, vlo, ok, fail),
        Op::ScmpCmpNe => asm.jump(Cmp::Eq, vlo, fail, ok),
        Op::ScmpCmpGt => asm.jump(Cmp::Gt, vlo, ok, fail),
        Op::ScmpCmpGe => asm.jump(Cmp::Ge, vlo, ok, fail),
        Op::ScmpCmpLt => asm.jump(Cmp::Ge, vlo, fail, ok),
        Op::ScmpCmpLe => asm.jump(Cmp::Gt, vlo, fail, ok),
        Op::ScmpCmpMaskedEq => {
            asm.and(mlo);
            asm.jump(Cmp::Eq, vlo, ok, fail);
        }
    }
    asm.bind(ok);
}
