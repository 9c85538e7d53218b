//! The ELF gate: what a built candidate module contains, and what in it a
//! kernel never needs. A kernel is pure code over the buffers it is lent, so
//! the module may have nothing writable after the loader has applied its
//! relocations (RELRO covers `.data.rel.ro`, `.dynamic` and `.got`), no
//! thread-local storage, no code that runs at load (constructors, IFUNC
//! resolvers) and no instruction that enters the kernel directly.

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader, Sym};
use object::{Endianness, SectionIndex};
use std::ops::Range;

use crate::scan::{executable_syscalls, syscall_sequences, Origin};

/// Larger modules are refused before they are parsed: the variant
/// generator's kernels are 15-40 KiB.
pub const MAX_MODULE_BYTES: u64 = 16 << 20;

/// The page size RELRO is applied with: glibc rounds the end of the RELRO
/// range *down* to a page, so a range that does not end on one leaves its
/// last partial page writable.
const PAGE_BYTES: u64 = 4096;

/// The sections g++ 12 and ld emit for a kernel built with the hardened
/// flags and `-nostartfiles` (plus the non-allocated ones a debug build
/// adds). A section attribute's own name is never among them: ld merges
/// `.text.*` and `.rodata.*` into their parents.
const ALLOWED_SECTIONS: &[&str] = &[
    "",
    ".note.gnu.property",
    ".note.gnu.build-id",
    ".gnu.hash",
    ".hash",
    ".dynsym",
    ".dynstr",
    ".gnu.version",
    ".gnu.version_r",
    ".gnu.version_d",
    ".rela.dyn",
    ".rela.plt",
    ".plt",
    ".plt.got",
    ".plt.sec",
    ".text",
    ".rodata",
    ".eh_frame_hdr",
    ".eh_frame",
    ".gcc_except_table",
    ".data.rel.ro",
    ".dynamic",
    ".got",
    ".got.plt",
    ".comment",
    ".symtab",
    ".strtab",
    ".shstrtab",
];

/// Writable while relocations are applied, read-only (RELRO) afterwards.
const RELRO_SECTIONS: &[&str] = &[".data.rel.ro", ".dynamic", ".got", ".got.plt"];

/// Dynamic relocations that only write an address: none of them calls code.
const ALLOWED_RELOCATIONS: &[u32] = &[
    elf::R_X86_64_64,
    elf::R_X86_64_GLOB_DAT,
    elf::R_X86_64_JUMP_SLOT,
    elf::R_X86_64_RELATIVE,
];

/// One reason to refuse a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A stable name: `size`, `elf`, `writable`, `tls`, `load-time-code`, `code-data`,
    /// `ifunc`, `relocation`, `section`, `wx`, `exec-stack`, `textrel`, `syscall-bytes`.
    pub rule: &'static str,
    pub message: String,
}

/// What the TypeScript symbol gate needs to know about a module.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub bytes: u64,
    /// Undefined dynamic symbols, without versions.
    pub undefined: Vec<String>,
    /// Defined dynamic symbols.
    pub exports: Vec<String>,
    /// DT_NEEDED libraries.
    pub needed: Vec<String>,
    pub problems: Vec<Problem>,
}

impl Inspection {
    fn refuse(&mut self, rule: &'static str, message: String) {
        self.problems.push(Problem { rule, message });
    }
}

/// Inspects the bytes of a built module whose source is of `origin`; every
/// finding is data, never a panic.
pub fn inspect(data: &[u8], origin: Origin) -> Inspection {
    let mut inspection = Inspection {
        bytes: data.len() as u64,
        ..Inspection::default()
    };
    if inspection.bytes > MAX_MODULE_BYTES {
        return inspect_size(inspection.bytes);
    }
    if let Err(error) = inspect_elf(data, origin, &mut inspection) {
        inspection.refuse("elf", format!("not a readable ELF shared object: {error}"));
    }
    inspection
}

/// The verdict on a module too large to read.
pub fn inspect_size(bytes: u64) -> Inspection {
    let mut inspection = Inspection {
        bytes,
        ..Inspection::default()
    };
    inspection.refuse(
        "size",
        format!("the module is {bytes} bytes: the limit is {MAX_MODULE_BYTES}"),
    );
    inspection
}

/// The verdict on a module that could not be read.
pub fn unreadable(why: &str) -> Inspection {
    let mut inspection = Inspection::default();
    inspection.refuse("elf", format!("the module cannot be read: {why}"));
    inspection
}

type Header = elf::FileHeader64<Endianness>;

fn inspect_elf(data: &[u8], origin: Origin, out: &mut Inspection) -> object::read::Result<()> {
    let header = Header::parse(data)?;
    let endian = header.endian()?;
    if header.e_machine(endian) != elf::EM_X86_64 || header.e_type(endian) != elf::ET_DYN {
        out.refuse(
            "elf",
            "not a readable ELF shared object: not x86-64 or not a shared object".into(),
        );
        return Ok(());
    }
    let sections = header.sections(endian, data)?;
    let mut code_ranges = Vec::new();
    for section in sections.iter() {
        let executable = section.sh_flags(endian) & u64::from(elf::SHF_EXECINSTR) != 0;
        if !executable || section.sh_type(endian) != elf::SHT_PROGBITS {
            continue;
        }
        let start = section.sh_offset(endian) as usize;
        let code = section.data(endian, data)?;
        code_ranges.push(start..start + code.len());
        for (offset, name) in executable_syscalls(code, origin) {
            let at = start + offset;
            out.refuse(
                "syscall-bytes",
                format!("executable code holds `{name}` at file offset {at:#x}"),
            );
        }
    }
    segments(header, endian, data, &code_ranges, out)?;
    for section in sections.iter() {
        let name = String::from_utf8_lossy(sections.section_name(endian, section)?).into_owned();
        let flags = section.sh_flags(endian);
        if !ALLOWED_SECTIONS.contains(&name.as_str()) && !name.starts_with(".debug_") {
            out.refuse(
                "section",
                format!(
                    "has a section named {name:?}, which the compiler does not emit for a kernel"
                ),
            );
        }
        if flags & u64::from(elf::SHF_TLS) != 0 {
            out.refuse("tls", format!("section {name} holds thread-local storage"));
        }
        let writable = flags & u64::from(elf::SHF_WRITE | elf::SHF_ALLOC)
            == u64::from(elf::SHF_WRITE | elf::SHF_ALLOC);
        if writable && !RELRO_SECTIONS.contains(&name.as_str()) {
            out.refuse(
                "writable",
                format!("has writable state ({name}): a kernel needs no global variables"),
            );
        }
        if section.sh_type(endian) == elf::SHT_DYNAMIC {
            dynamic_entries(section, &sections, endian, data, out)?;
        }
        if section.sh_type(endian) == elf::SHT_RELA {
            if let Some((relocations, _)) = section.rela(endian, data)? {
                for relocation in relocations {
                    let kind = relocation.r_type(endian, false);
                    if !ALLOWED_RELOCATIONS.contains(&kind) {
                        out.refuse("relocation", format!("has a dynamic relocation of type {} ({kind}), which can run code or set up thread-local storage at load", relocation_name(kind)));
                    }
                }
            }
        } else if section.sh_type(endian) == elf::SHT_REL {
            out.refuse(
                "relocation",
                format!("has REL relocations ({name}), which x86-64 never needs"),
            );
        }
    }
    for kind in [elf::SHT_DYNSYM, elf::SHT_SYMTAB] {
        let symbols = sections.symbols(endian, data, kind)?;
        for symbol in symbols.iter() {
            let name =
                String::from_utf8_lossy(symbol.name(endian, symbols.strings())?).into_owned();
            let in_code = sections
                .section(SectionIndex(usize::from(symbol.st_shndx(endian))))
                .is_ok_and(|section| section.sh_flags(endian) & u64::from(elf::SHF_EXECINSTR) != 0);
            if symbol.st_type() == elf::STT_OBJECT && in_code {
                out.refuse(
                    "code-data",
                    format!("{name} is data placed among executable code"),
                );
            }
            match symbol.st_type() {
                elf::STT_GNU_IFUNC => out.refuse(
                    "ifunc",
                    format!("{name} is an IFUNC, whose resolver runs at load"),
                ),
                elf::STT_TLS => out.refuse("tls", format!("{name} is a thread-local variable")),
                _ => {}
            }
            if kind == elf::SHT_DYNSYM && !name.is_empty() {
                let bare = name.split('@').next().unwrap_or_default().to_owned();
                if symbol.is_undefined(endian) {
                    out.undefined.push(bare);
                } else {
                    out.exports.push(bare);
                }
            }
        }
    }
    dedupe(&mut out.problems);
    Ok(())
}

fn dedupe(problems: &mut Vec<Problem>) {
    let mut seen = std::collections::HashSet::new();
    problems.retain(|problem| seen.insert(problem.message.clone()));
}

fn segments(
    header: &Header,
    endian: Endianness,
    data: &[u8],
    code_ranges: &[Range<usize>],
    out: &mut Inspection,
) -> object::read::Result<()> {
    let headers = header.program_headers(endian, data)?;
    let relro: Vec<(u64, u64)> = headers
        .iter()
        .filter(|segment| segment.p_type(endian) == elf::PT_GNU_RELRO)
        .map(|segment| {
            let start = segment.p_vaddr(endian);
            (start, start + segment.p_memsz(endian))
        })
        .collect();
    for segment in headers {
        let flags = segment.p_flags(endian);
        let (start, end) = (
            segment.p_vaddr(endian),
            segment.p_vaddr(endian) + segment.p_memsz(endian),
        );
        match segment.p_type(endian) {
            elf::PT_TLS => out.refuse("tls", "has a thread-local storage segment (PT_TLS)".into()),
            elf::PT_GNU_STACK if flags & elf::PF_X != 0 => {
                out.refuse("exec-stack", "asks for an executable stack".into())
            }
            elf::PT_LOAD if flags & elf::PF_W != 0 && flags & elf::PF_X != 0 => {
                out.refuse("wx", "has a writable and executable segment".into())
            }
            elf::PT_LOAD if flags & elf::PF_W != 0 => {
                let sealed = relro.iter().any(|&(relro_start, relro_end)| {
                    relro_start <= start && end <= relro_end && relro_end % PAGE_BYTES == 0
                });
                if !sealed {
                    out.refuse("writable", format!("has a segment at {start:#x}..{end:#x} that stays writable after load (not covered by RELRO)"));
                }
            }
            elf::PT_LOAD if flags & elf::PF_X != 0 => {
                let Ok(code) = segment.data(endian, data) else {
                    out.refuse("elf", "an executable segment lies outside the file".into());
                    continue;
                };
                // Bytes mapped executable outside any code section get no decoding: any pair is refused.
                for (offset, name) in syscall_sequences(code) {
                    let at = segment.p_offset(endian) as usize + offset;
                    if !code_ranges.iter().any(|range| range.contains(&at)) {
                        out.refuse("syscall-bytes", format!("an executable segment holds the bytes of `{name}` at file offset {at:#x}"));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn dynamic_entries(
    section: &elf::SectionHeader64<Endianness>,
    sections: &object::read::elf::SectionTable<Header>,
    endian: Endianness,
    data: &[u8],
    out: &mut Inspection,
) -> object::read::Result<()> {
    let Some((entries, strings_index)) = section.dynamic(endian, data)? else {
        return Ok(());
    };
    let strings = sections.strings(endian, data, strings_index)?;
    for entry in entries {
        let tag = entry.tag32(endian).unwrap_or(u32::MAX);
        let value = entry.d_val(endian);
        let load_time = match tag {
            elf::DT_INIT => Some("DT_INIT"),
            elf::DT_FINI => Some("DT_FINI"),
            elf::DT_INIT_ARRAY => Some("DT_INIT_ARRAY"),
            elf::DT_FINI_ARRAY => Some("DT_FINI_ARRAY"),
            elf::DT_PREINIT_ARRAY => Some("DT_PREINIT_ARRAY"),
            _ => None,
        };
        if let Some(name) = load_time {
            out.refuse(
                "load-time-code",
                format!("has {name}: code that runs when the module is loaded or unloaded"),
            );
        }
        if tag == elf::DT_TEXTREL
            || (tag == elf::DT_FLAGS && value & u64::from(elf::DF_TEXTREL) != 0)
        {
            out.refuse("textrel", "has text relocations".into());
        }
        if tag == elf::DT_FLAGS && value & u64::from(elf::DF_STATIC_TLS) != 0 {
            out.refuse("tls", "uses static thread-local storage".into());
        }
        if tag == elf::DT_NEEDED {
            let name = entry.string(endian, strings)?;
            out.needed.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(())
}

fn relocation_name(kind: u32) -> &'static str {
    match kind {
        elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        _ => "unexpected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_elf() {
        let inspection = inspect(b"#!/bin/sh\necho hello\n", Origin::Untrusted);
        assert_eq!(inspection.problems.len(), 1);
        assert_eq!(inspection.problems[0].rule, "elf");
    }

    #[test]
    fn refuses_an_oversized_module_before_parsing_it() {
        let inspection = inspect(&vec![0u8; MAX_MODULE_BYTES as usize + 1], Origin::Untrusted);
        assert_eq!(inspection.problems[0].rule, "size");
    }
}
