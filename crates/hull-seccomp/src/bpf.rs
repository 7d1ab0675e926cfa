//! A tiny classic-BPF assembler with symbolic labels.
//!
//! Code is emitted with forward references to labels; [`Asm::assemble`] resolves
//! them. Conditional jumps only reach 255 instructions ahead, so a branch whose
//! target is farther away gets a trampoline right after it: a copy of the target
//! if that is a `ret`, otherwise a `ja` (32-bit offset). Trampolines can push other
//! branches out of range, so resolution repeats until everything fits.

use libc::sock_filter;

use crate::SeccompError;

/// The kernel's limit on the length of one filter program.
pub const BPF_MAXINSNS: usize = 4096;

// Opcodes from <linux/filter.h> / <linux/bpf_common.h>.
const BPF_LD: u16 = 0x00;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_ALU: u16 = 0x04;
const BPF_AND: u16 = 0x50;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = 0x00;
const BPF_JEQ: u16 = 0x10;
const BPF_JGT: u16 = 0x20;
const BPF_JGE: u16 = 0x30;
const BPF_K: u16 = 0x00;
const BPF_RET: u16 = 0x06;

/// Offsets into `struct seccomp_data` (little-endian layout).
pub(crate) const OFF_NR: u32 = 0;
pub(crate) const OFF_ARCH: u32 = 4;
pub(crate) fn off_arg_lo(index: usize) -> u32 {
    16 + 8 * index as u32
}
pub(crate) fn off_arg_hi(index: usize) -> u32 {
    20 + 8 * index as u32
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Label(usize);

/// Unsigned comparison of the accumulator with a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Load(u32),
    And(u32),
    Jump {
        cmp: Cmp,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Goto(Label),
    Ret(u32),
    Bind(Label),
}

#[derive(Default)]
pub(crate) struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    pub(crate) fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub(crate) fn bind(&mut self, l: Label) {
        self.ops.push(Op::Bind(l));
    }

    /// A = 32-bit word at `offset` of `seccomp_data`.
    pub(crate) fn load(&mut self, offset: u32) {
        self.ops.push(Op::Load(offset));
    }

    pub(crate) fn and(&mut self, k: u32) {
        self.ops.push(Op::And(k));
    }

    pub(crate) fn jump(&mut self, cmp: Cmp, k: u32, jt: Label, jf: Label) {
        self.ops.push(Op::Jump { cmp, k, jt, jf });
    }

    pub(crate) fn goto(&mut self, l: Label) {
        self.ops.push(Op::Goto(l));
    }

    pub(crate) fn ret(&mut self, k: u32) {
        self.ops.push(Op::Ret(k));
    }

    /// Resolves labels and returns the program.
    pub(crate) fn assemble(mut self) -> Result<Vec<sock_filter>, SeccompError> {
        loop {
            let (pos, label_pos) = self.layout()?;
            let ops = std::mem::take(&mut self.ops);
            let real: Vec<Op> = ops
                .iter()
                .filter(|op| !matches!(op, Op::Bind(_)))
                .copied()
                .collect();
            let mut fixed = Vec::with_capacity(ops.len());
            let mut changed = false;
            for (i, op) in ops.iter().enumerate() {
                let Op::Jump { cmp, k, jt, jf } = *op else {
                    fixed.push(*op);
                    continue;
                };
                let here = pos[i];
                let far = |l: Label| label_pos[l.0].saturating_sub(here + 1) > 255;
                if !far(jt) && !far(jf) {
                    fixed.push(*op);
                    continue;
                }
                changed = true;
                let (jt2, jf2) = (
                    if far(jt) { self.label() } else { jt },
                    if far(jf) { self.label() } else { jf },
                );
                fixed.push(Op::Jump {
                    cmp,
                    k,
                    jt: jt2,
                    jf: jf2,
                });
                for (orig, new) in [(jt, jt2), (jf, jf2)] {
                    if orig != new {
                        fixed.push(Op::Bind(new));
                        fixed.push(match real.get(label_pos[orig.0]) {
                            Some(Op::Ret(k)) => Op::Ret(*k),
                            _ => Op::Goto(orig),
                        });
                    }
                }
            }
            self.ops = fixed;
            if !changed {
                break;
            }
        }
        let (pos, label_pos) = self.layout()?;
        let mut out = Vec::with_capacity(self.ops.len());
        for (i, op) in self.ops.iter().enumerate() {
            let here = pos[i];
            let rel = |l: Label| -> Result<u32, SeccompError> {
                let target = label_pos[l.0];
                if target <= here {
                    return Err(SeccompError::Internal(format!(
                        "backward jump from {here} to {target}"
                    )));
                }
                Ok((target - here - 1) as u32)
            };
            let ins = match *op {
                Op::Bind(_) => continue,
                Op::Load(off) => stmt(BPF_LD | BPF_W | BPF_ABS, off),
                Op::And(k) => stmt(BPF_ALU | BPF_AND | BPF_K, k),
                Op::Ret(k) => stmt(BPF_RET | BPF_K, k),
                Op::Goto(l) => stmt(BPF_JMP | BPF_JA, rel(l)?),
                Op::Jump { cmp, k, jt, jf } => {
                    let code = BPF_JMP
                        | BPF_K
                        | match cmp {
                            Cmp::Eq => BPF_JEQ,
                            Cmp::Gt => BPF_JGT,
                            Cmp::Ge => BPF_JGE,
                        };
                    let (t, f) = (rel(jt)?, rel(jf)?);
                    let (Ok(t), Ok(f)) = (u8::try_from(t), u8::try_from(f)) else {
                        return Err(SeccompError::Internal("jump out of range".into()));
                    };
                    sock_filter {
                        code,
                        jt: t,
                        jf: f,
                        k,
                    }
                }
            };
            out.push(ins);
        }
        if out.len() > BPF_MAXINSNS {
            return Err(SeccompError::TooLarge { len: out.len() });
        }
        Ok(out)
    }

    /// Instruction index of every op, and of every label.
    fn layout(&self) -> Result<(Vec<usize>, Vec<usize>), SeccompError> {
        let mut pos = Vec::with_capacity(self.ops.len());
        let mut label_pos = vec![usize::MAX; self.labels];
        let mut n = 0;
        for op in &self.ops {
            pos.push(n);
            match op {
                Op::Bind(l) => label_pos[l.0] = n,
                _ => n += 1,
            }
        }
        if label_pos.iter().any(|&p| p == usize::MAX || p >= n) {
            return Err(SeccompError::Internal(
                "label unbound or at the end of the program".into(),
            ));
        }
        Ok((pos, label_pos))
    }
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
