//! The core's side of the protocol (cpp/core/remote_kernel.cpp) must use the
//! same magics and sizes as `protocol.rs`: this reads its constants.

use ouroboros_kernel_host::protocol::{
    COMMAND_BYTES, COMMAND_MAGIC, HELLO_BYTES, HELLO_MAGIC, NAME_BYTES, PROTOCOL_VERSION,
    REPLY_BYTES, REPLY_MAGIC,
};

fn constant(source: &str, name: &str) -> u64 {
    let line = source
        .lines()
        .find(|line| line.contains(&format!(" {name} = ")))
        .unwrap_or_else(|| panic!("{name} is not defined in remote_kernel.cpp"));
    let value = line
        .split(" = ")
        .nth(1)
        .unwrap()
        .trim_end_matches(';')
        .trim();
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None if value.starts_with("8 + ") => 8 + constant(source, value.trim_start_matches("8 + ")),
        None => value.parse().unwrap(),
    }
}

#[test]
fn the_core_speaks_the_same_protocol() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../cpp/core/remote_kernel.cpp"
    );
    let source = std::fs::read_to_string(path).expect("cpp/core/remote_kernel.cpp");
    assert_eq!(constant(&source, "kHelloMagic"), u64::from(HELLO_MAGIC));
    assert_eq!(constant(&source, "kCommandMagic"), u64::from(COMMAND_MAGIC));
    assert_eq!(constant(&source, "kReplyMagic"), u64::from(REPLY_MAGIC));
    assert_eq!(
        constant(&source, "kProtocolVersion"),
        u64::from(PROTOCOL_VERSION)
    );
    assert_eq!(constant(&source, "kNameBytes"), NAME_BYTES as u64);
    assert_eq!(constant(&source, "kHelloBytes"), HELLO_BYTES as u64);
    assert_eq!(constant(&source, "kCommandBytes"), COMMAND_BYTES as u64);
    assert_eq!(constant(&source, "kReplyBytes"), REPLY_BYTES as u64);
}
