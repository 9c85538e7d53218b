//! The byte scan of executable code for instructions that enter the kernel
//! (`syscall`, `sysenter`, `int 0x80`). A kernel reaches the kernel only
//! through the host, so any of them is a refusal. The raw byte pairs also
//! occur inside ordinary compiled code: on 300 variant-generator kernels,
//! 5 held `0f 05` and every one was the rel32 displacement of a near branch
//! (`0f 84 0f 05 00 00`: a jump 0x50f bytes ahead), which the linker's
//! layout chose, not the source. So the scan decodes the code (a linear
//! sweep, exact for compiler output: GCC puts no data in `.text`) and lets
//! a pair through only when it lies inside such a displacement; a pair in
//! an immediate, a displacement of any other instruction or undecodable
//! bytes is refused, because the source chooses those.

use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind};

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

/// Byte ranges of `code` that are the rel32 displacement of a near branch,
/// by a linear sweep from its first byte.
pub fn branch_displacements(code: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    for instruction in decoder {
        // jcc, jmp and call rel32: a 64-bit near branch longer than the short (rel8) forms.
        let near = instruction.op_count() == 1 && instruction.op0_kind() == OpKind::NearBranch64;
        if near && instruction.len() > REL32_BYTES {
            let end = instruction.ip() as usize + instruction.len();
            ranges.push(end - REL32_BYTES..end);
        }
    }
    ranges
}

/// Syscall-like byte pairs of an executable section that could run: every
/// decoded `syscall`/`sysenter`/`int 0x80`, and every pair not inside a
/// branch displacement.
pub fn executable_syscalls(code: &[u8]) -> Vec<(usize, &'static str)> {
    let tolerated = branch_displacements(code);
    let mut found: Vec<(usize, &'static str)> = syscall_sequences(code)
        .into_iter()
        .filter(|&(offset, _)| {
            !tolerated
                .iter()
                .any(|r| r.contains(&offset) && r.contains(&(offset + 1)))
        })
        .collect();
    for instruction in Decoder::with_ip(64, code, 0, DecoderOptions::NONE) {
        let name = match instruction.mnemonic() {
            Mnemonic::Syscall => Some("syscall"),
            Mnemonic::Sysenter => Some("sysenter"),
            Mnemonic::Int if instruction.immediate8() == 0x80 => Some("int 0x80"),
            _ => None,
        };
        if let Some(name) = name {
            let offset = instruction.ip() as usize;
            if !found.contains(&(offset, name)) {
                found.push((offset, name));
            }
        }
    }
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // je +0x50f; ret
        assert_eq!(
            executable_syscalls(&[0x0f, 0x84, 0x0f, 0x05, 0x00, 0x00, 0xc3]),
            vec![]
        );
        // call +0x50f; ret
        assert_eq!(
            executable_syscalls(&[0xe8, 0x0f, 0x05, 0x00, 0x00, 0xc3]),
            vec![]
        );
    }

    #[test]
    fn a_pair_in_an_immediate_is_refused() {
        // movabs rax, 0xc3050f000000e4b8 (mov eax, 0xe4; syscall; ret hidden in the immediate)
        let code = [
            0x48, 0xb8, 0xb8, 0xe4, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3, 0xc3,
        ];
        assert_eq!(executable_syscalls(&code), vec![(7, "syscall")]);
    }

    #[test]
    fn real_instructions_are_refused() {
        assert_eq!(
            executable_syscalls(&[0x0f, 0x05, 0xc3]),
            vec![(0, "syscall")]
        );
        assert_eq!(
            executable_syscalls(&[0xcd, 0x80, 0xc3]),
            vec![(0, "int 0x80")]
        );
        assert_eq!(executable_syscalls(&[0x0f, 0x34]), vec![(0, "sysenter")]);
    }
}
