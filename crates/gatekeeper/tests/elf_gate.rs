//! The ELF gate on modules g++ builds with the gauntlet's hardened flags:
//! a plain kernel passes, and each way of keeping state or running code at
//! load is named.

use ouroboros_gatekeeper::inspect::inspect;
use ouroboros_gatekeeper::scan::Origin;
use std::path::PathBuf;
use std::process::Command;

/// The gauntlet's flags (ts/gauntlet/compile.ts), `-nostartfiles` included.
const FLAGS: &[&str] = &[
    "-std=c++17",
    "-O3",
    "-fPIC",
    "-shared",
    "-nostartfiles",
    "-fstack-protector-strong",
    "-D_FORTIFY_SOURCE=2",
    "-Wall",
    "-Wextra",
    "-ffp-contract=off",
    "-Wl,-z,noexecstack",
    "-Wl,-z,relro",
    "-Wl,-z,now",
];

const KERNEL: &str = r#"
extern "C" __attribute__((visibility("default"))) double ouro_kernel_entry(const double* in, int n) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += in[i] * 0.5;
  return sum;
}
"#;

fn build(name: &str, source: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("elf-gate-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("k.cpp");
    std::fs::write(&file, source).unwrap();
    let module = dir.join("k.so");
    let status = Command::new("g++")
        .args(FLAGS)
        .arg(&file)
        .arg("-o")
        .arg(&module)
        .status()
        .expect("g++ runs");
    assert!(status.success(), "{name} builds");
    std::fs::read(module).unwrap()
}

fn rules(name: &str, extra: &str) -> Vec<&'static str> {
    let inspection = inspect(
        &build(name, &format!("{KERNEL}\n{extra}")),
        Origin::Untrusted,
    );
    inspection.problems.iter().map(|p| p.rule).collect()
}

#[test]
fn a_plain_kernel_passes_and_lists_its_exports() {
    let inspection = inspect(&build("plain", KERNEL), Origin::Untrusted);
    assert_eq!(inspection.problems, vec![]);
    assert_eq!(inspection.exports, vec!["ouro_kernel_entry".to_owned()]);
}

#[test]
fn writable_global_state_is_refused() {
    assert!(rules(
        "global",
        "int calls = 0; extern \"C\" int bump() { return ++calls; }"
    )
    .contains(&"writable"));
    assert!(rules(
        "bss",
        "static char scratch[1 << 16]; extern \"C\" char* buf() { return scratch; }"
    )
    .contains(&"writable"));
}

#[test]
fn thread_local_storage_is_refused() {
    assert!(rules(
        "tls",
        "thread_local int calls; extern \"C\" int bump() { return ++calls; }"
    )
    .contains(&"tls"));
}

#[test]
fn a_constructor_is_refused() {
    let found = rules(
        "ctor",
        "extern \"C\" __attribute__((constructor)) void at_load() {}",
    );
    assert!(found.contains(&"load-time-code"), "{found:?}");
}

#[test]
fn an_init_array_entry_placed_by_a_section_is_refused() {
    let found = rules(
        "init-array",
        "static void at_load() {} __attribute__((section(\".init_array\"), used)) static void (*entry)() = at_load;",
    );
    assert!(found.contains(&"load-time-code"), "{found:?}");
}

#[test]
fn an_ifunc_resolver_is_refused() {
    let found = rules(
        "ifunc",
        "extern \"C\" int real() { return 1; } typedef int (*Fn)(); extern \"C\" Fn resolve() { return real; } extern \"C\" int chosen() __attribute__((ifunc(\"resolve\")));",
    );
    assert!(found.contains(&"ifunc"), "{found:?}");
}

#[test]
fn a_section_of_its_own_naming_is_refused() {
    let found = rules(
        "section",
        "__attribute__((section(\"payload\"), used)) const char blob[] = \"x\";",
    );
    assert!(found.contains(&"section"), "{found:?}");
}

#[test]
fn syscall_bytes_smuggled_into_text_are_refused() {
    let found = rules(
        "syscall",
        "__attribute__((section(\".text\"), used)) const unsigned char code[] = {0x48, 0xc7, 0xc0, 0x3c, 0, 0, 0, 0x0f, 0x05};",
    );
    assert!(found.contains(&"syscall-bytes"), "{found:?}");
}

/// A variant-generator kernel as the compile gate built it (g++ 12,
/// `-march=znver3`; genome in tests/fixtures/variants/lea-cd-80.genome.json):
/// `lea 0x80(,%r9,8),%rdx` at 0x14d8 is `4a 8d 14 cd 80 00 00 00`, the SIB
/// byte and the displacement making `cd 80`. Committed built, so the test
/// does not depend on what another compiler would emit. Read into a `Vec`,
/// as the gatekeeper reads a module: the ELF parser needs the allocator's
/// alignment, which `include_bytes!` does not give.
fn lea_cd_80_module() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/variant-lea-cd-80.so"
    ))
    .unwrap()
}

#[test]
fn a_pair_inside_a_trusted_renderings_instruction_is_let_through() {
    let trusted = inspect(&lea_cd_80_module(), Origin::TrustedRendering);
    assert_eq!(trusted.problems, vec![]);
    assert_eq!(trusted.exports, vec!["ouro_kernel_entry".to_owned()]);
}

#[test]
fn the_same_bytes_from_an_untrusted_source_are_refused() {
    let untrusted = inspect(&lea_cd_80_module(), Origin::Untrusted);
    let refusals: Vec<_> = untrusted
        .problems
        .iter()
        .map(|p| (p.rule, p.message.as_str()))
        .collect();
    assert_eq!(
        refusals,
        vec![(
            "syscall-bytes",
            "executable code holds `int 0x80` at file offset 0x14db"
        )]
    );
}
