//! The byte scan of executable code for instructions that enter the kernel
//! (`syscall`, `sysenter`, `int 0x80`). A kernel reaches the kernel only
//! through the host, so any of them is a refusal. The raw byte pairs also
//! occur inside ordinary compiled code, where only a jump into the middle
//! of an instruction could run them, so the scan decodes the code (a linear
//! sweep from the section's first byte) and what it lets through depends on
//! who wrote the source, as the gauntlet established it ([`Origin`]):
//!
//! - Any source: a pair inside the rel32 displacement of a near branch. On
//!   300 variant-generator kernels, 5 held `0f 05` and every one was such a
//!   displacement (`0f 84 0f 05 00 00`: a jump 0x50f bytes ahead), which the
//!   linker's layout chose, not the source.
//! - A trusted rendering (the variant generator's template with a genome's
//!   values, re-rendered by the gauntlet itself): also a pair anywhere else
//!   inside a decoded instruction, such as `lea 0x80(,%r9,8),%rdx`
//!   (`4a 8d 14 cd 80 00 00 00`: SIB byte `cd`, displacement 0x80), which
//!   refused about 4% of the generator's renderings. The project's templates
//!   form no code pointer but the compiler's own, so control reaches only
//!   instruction starts; the scan checks what it can of that: the sweep must
//!   decode every byte and every direct branch must land on an instruction
//!   it decoded, or the section gets the untrusted policy.
//! - An untrusted source chooses its immediates and can compute a code
//!   address (`(char*)&f + 7` called as a function), which no sweep can
//!   bound: every other pair is refused, as are undecodable bytes.
//!
//! Every decoded `syscall`/`sysenter`/`int 0x80` is refused whatever the
//! origin.

use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind};
use std::collections::HashSet;
use std::ops::Range;

/// Who wrote the source of a module: established by the gauntlet (it renders
/// the genome again and compares), never taken from the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Any source the gauntlet cannot trace to the project's templates.
    Untrusted,
    /// The variant generator's rendering of a genome, byte for byte.
    TrustedRendering,
}

/// Byte sequences that enter the kernel.
pub const SYSCALL_SEQUENCES: &[(&[u8], &str)] = &[
    (&[0x0f, 0x05], "syscall"),
    (&[0x0f, 0x34], "sysenter"),
    (&[0xcd, 0x80], "int 0x80"),
];

/// Bytes of a rel32 branch displacement.
const REL32_BYTES: usize = 4;

/// Offsets of every syscall-like byte pair in `code`, with its name.
pub fn syscall_sequences(code: &[u8]) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for offset in 0..code.len().saturating_sub(1) {
        for (bytes, name) in SYSCALL_SEQUENCES {
            if code[offset..].starts_with(bytes) {
                found.push((offset, *name));
            }
        }
    }
    found
}

/// What a linear sweep of a code section decoded.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Offsets where a decoded instruction starts.
    pub starts: HashSet<usize>,
    /// Byte ranges that are the rel32 displacement of a near branch.
    pub branch_displacements: Vec<Range<usize>>,
    /// Decoded instructions that enter the kernel, with their names.
    pub kernel_entries: Vec<(usize, &'static str)>,
    /// Whether bytes did not decode as an instruction.
    pub undecodable: bool,
    /// Whether a direct branch lands inside the section but not on a decoded instruction.
    pub branch_into_instruction: bool,
}

impl Sweep {
    /// Whether the sweep is the code control can run: every byte decoded and
    /// every direct branch inside the section lands on an instruction start.
    pub fn is_exact(&self) -> bool {
        !self.undecodable && !self.branch_into_instruction
    }
}

/// Decodes `code` by a linear sweep from its first byte.
pub fn sweep(code: &[u8]) -> Sweep {
    let mut found = Sweep::default();
    let mut targets = Vec::new();
    for instruction in Decoder::with_ip(64, code, 0, DecoderOptions::NONE) {
        let start = instruction.ip() as usize;
        let end = start + instruction.len();
        found.starts.insert(start);
        if instruction.is_invalid() {
            found.undecodable = true;
            continue;
        }
        // jcc, jmp and call rel32: a 64-bit near branch longer than the short (rel8) forms.
        let near = instruction.op_count() == 1 && instruction.op0_kind() == OpKind::NearBranch64;
        if near {
            targets.push(instruction.near_branch64());
            if instruction.len() > REL32_BYTES {
                found.branch_displacements.push(end - REL32_BYTES..end);
            }
        }
        let entry = match instruction.mnemonic() {
            Mnemonic::Syscall => Some("syscall"),
            Mnemonic::Sysenter => Some("sysenter"),
            Mnemonic::Int if instruction.immediate8() == 0x80 => Some("int 0x80"),
            _ => None,
        };
        if let Some(name) = entry {
            found.kernel_entries.push((start, name));
        }
    }
    // Targets outside the section (the PLT, another section) are that section's to check.
    found.branch_into_instruction = targets.iter().any(|&target| {
        (target as usize) < code.len() && !found.starts.contains(&(target as usize))
    });
    found
}

/// Syscall-like byte pairs of an executable section that could run, for
/// code of `origin` (see the module's comment): every decoded
/// `syscall`/`sysenter`/`int 0x80`, and every pair the origin's policy does
/// not let through.
pub fn executable_syscalls(code: &[u8], origin: Origin) -> Vec<(usize, &'static str)> {
    let decoded = sweep(code);
    let inside_instructions = origin == Origin::TrustedRendering && decoded.is_exact();
    let mut found: Vec<(usize, &'static str)> = syscall_sequences(code)
        .into_iter()
        .filter(|&(offset, _)| {
            let in_displacement = decoded
                .branch_displacements
                .iter()
                .any(|r| r.contains(&offset) && r.contains(&(offset + 1)));
            // A pair that starts an instruction is that instruction; any other lies inside one.
            let in_instruction = inside_instructions && !decoded.starts.contains(&offset);
            !in_displacement && !in_instruction
        })
        .collect();
    for entry in decoded.kernel_entries {
        if !found.contains(&entry) {
            found.push(entry);
        }
    }
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lea 0x80(,%r9,8),%rdx`: SIB byte `cd`, then the displacement 0x80, as
    /// g++ emitted it in a variant-generator kernel.
    const LEA_CD_80: [u8; 8] = [0x4a, 0x8d, 0x14, 0xcd, 0x80, 0x00, 0x00, 0x00];

    fn with_ret(bytes: &[&[u8]]) -> Vec<u8> {
        let mut code: Vec<u8> = bytes.concat();
        code.push(0xc3);
        code
    }

    #[test]
    fn finds_every_syscall_sequence_and_nothing_else() {
        let code = [0x90, 0x0f, 0x05, 0x0f, 0x34, 0xcd, 0x80, 0x0f, 0xcd, 0x05];
        assert_eq!(
            syscall_sequences(&code),
            vec![(1, "syscall"), (3, "sysenter"), (5, "int 0x80")]
        );
        assert!(syscall_sequences(&[0x0f]).is_empty());
    }

    #[test]
    fn a_pair_inside_a_branch_displacement_is_not_a_syscall() {
        for origin in [Origin::Untrusted, Origin::TrustedRendering] {
            // je +0x50f; ret
            assert_eq!(
                executable_syscalls(&[0x0f, 0x84, 0x0f, 0x05, 0x00, 0x00, 0xc3], origin),
                vec![]
            );
            // call +0x50f; ret
            assert_eq!(
                executable_syscalls(&[0xe8, 0x0f, 0x05, 0x00, 0x00, 0xc3], origin),
                vec![]
            );
        }
    }

    #[test]
    fn an_untrusted_pair_in_an_immediate_or_a_displacement_is_refused() {
        // movabs rax, 0xc3050f000000e4b8 (mov eax, 0xe4; syscall; ret hidden in the immediate)
        let code = [
            0x48, 0xb8, 0xb8, 0xe4, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3, 0xc3,
        ];
        assert_eq!(
            executable_syscalls(&code, Origin::Untrusted),
            vec![(7, "syscall")]
        );
        assert_eq!(
            executable_syscalls(&with_ret(&[&LEA_CD_80]), Origin::Untrusted),
            vec![(3, "int 0x80")]
        );
    }

    #[test]
    fn a_trusted_rendering_may_hold_a_pair_inside_an_instruction() {
        assert_eq!(
            executable_syscalls(&with_ret(&[&LEA_CD_80]), Origin::TrustedRendering),
            vec![]
        );
        let movabs = [0x48, 0xb8, 0xb8, 0xe4, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3];
        assert_eq!(
            executable_syscalls(&with_ret(&[&movabs]), Origin::TrustedRendering),
            vec![]
        );
    }

    #[test]
    fn a_trusted_rendering_whose_sweep_is_not_the_code_gets_the_untrusted_policy() {
        // jmp +3 lands on the lea's `cd 80`: the sweep's instructions are not what runs.
        let into_the_lea = with_ret(&[&[0xeb, 0x03], &LEA_CD_80]);
        assert_eq!(
            executable_syscalls(&into_the_lea, Origin::TrustedRendering),
            vec![(5, "int 0x80")]
        );
        // 0x06 (push es) does not decode in 64-bit mode.
        let undecodable = with_ret(&[&[0x06], &LEA_CD_80]);
        assert_eq!(
            executable_syscalls(&undecodable, Origin::TrustedRendering),
            vec![(4, "int 0x80")]
        );
        // A branch to the lea's first byte keeps the sweep exact.
        let onto_the_lea = with_ret(&[&[0xeb, 0x00], &LEA_CD_80]);
        assert_eq!(
            executable_syscalls(&onto_the_lea, Origin::TrustedRendering),
            vec![]
        );
    }

    #[test]
    fn real_instructions_are_refused_whatever_the_origin() {
        for origin in [Origin::Untrusted, Origin::TrustedRendering] {
            assert_eq!(
                executable_syscalls(&[0x0f, 0x05, 0xc3], origin),
                vec![(0, "syscall")]
            );
            assert_eq!(
                executable_syscalls(&[0xcd, 0x80, 0xc3], origin),
                vec![(0, "int 0x80")]
            );
            assert_eq!(
                executable_syscalls(&[0x0f, 0x34], origin),
                vec![(0, "sysenter")]
            );
            // A prefixed syscall: the pair lies inside the instruction, which is itself the call.
            assert!(
                executable_syscalls(&[0x66, 0x0f, 0x05, 0xc3], origin).contains(&(0, "syscall"))
            );
        }
    }
}
