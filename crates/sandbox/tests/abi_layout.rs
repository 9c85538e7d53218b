//! The #[repr(C)] mirrors in src/abi.rs against the real header: a tiny C
//! program compiled with the system compiler prints every size and offset.

use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

use ouroboros_sandbox::abi::{Geometry, Host, KernelTable, State};

const PROBE: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include <ouroboros/kernel_abi.h>
int main(void) {
  printf("geometry %zu %zu %zu %zu %zu %zu %zu\n", sizeof(ouro_geometry), offsetof(ouro_geometry, dims),
         offsetof(ouro_geometry, precision), offsetof(ouro_geometry, cells), offsetof(ouro_geometry, extents),
         offsetof(ouro_geometry, strides), offsetof(ouro_geometry, courant2));
  printf("host %zu %zu %zu %zu\n", sizeof(ouro_host), offsetof(ouro_host, threads), offsetof(ouro_host, pool),
         offsetof(ouro_host, parallel_for));
  printf("state %zu %zu %zu %zu\n", sizeof(ouro_state), offsetof(ouro_state, level), offsetof(ouro_state, scratch),
         offsetof(ouro_state, current));
  printf("table %zu %zu %zu %zu %zu %zu\n", sizeof(ouro_kernel_table), offsetof(ouro_kernel_table, abi_version),
         offsetof(ouro_kernel_table, table_bytes), offsetof(ouro_kernel_table, name),
         offsetof(ouro_kernel_table, wave_step), offsetof(ouro_kernel_table, readout));
  printf("constants %u %u\n", OURO_KERNEL_ABI_VERSION, OURO_MAX_DIMS);
  return 0;
}
"#;

fn header_layout() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scratch = std::env::temp_dir().join(format!("ouroboros-abi-probe-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let source = scratch.join("probe.c");
    let binary = scratch.join("probe");
    std::fs::write(&source, PROBE).unwrap();
    let compiled = Command::new("cc")
        .arg("-I")
        .arg(root.join("cpp/include"))
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .status()
        .expect("a C compiler (cc) is needed to check the ABI layout");
    assert!(compiled.success(), "the layout probe did not compile");
    let output = Command::new(&binary).output().unwrap();
    std::fs::remove_dir_all(&scratch).unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn rust_mirrors_match_kernel_abi_h() {
    let expected = format!(
        "geometry {} {} {} {} {} {} {}\nhost {} {} {} {}\nstate {} {} {} {}\ntable {} {} {} {} {} {}\nconstants {} {}\n",
        size_of::<Geometry>(),
        offset_of!(Geometry, dims),
        offset_of!(Geometry, precision),
        offset_of!(Geometry, cells),
        offset_of!(Geometry, extents),
        offset_of!(Geometry, strides),
        offset_of!(Geometry, courant2),
        size_of::<Host>(),
        offset_of!(Host, threads),
        offset_of!(Host, pool),
        offset_of!(Host, parallel_for),
        size_of::<State>(),
        offset_of!(State, level),
        offset_of!(State, scratch),
        offset_of!(State, current),
        size_of::<KernelTable>(),
        offset_of!(KernelTable, abi_version),
        offset_of!(KernelTable, table_bytes),
        offset_of!(KernelTable, name),
        offset_of!(KernelTable, wave_step),
        offset_of!(KernelTable, readout),
        ouroboros_sandbox::abi::ABI_VERSION,
        ouroboros_sandbox::abi::MAX_DIMS,
    );
    assert_eq!(header_layout(), expected);
}
