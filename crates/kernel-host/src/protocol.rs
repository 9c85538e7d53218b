//! The fixed-size messages between the core and the kernel host, on a
//! `SOCK_SEQPACKET` socketpair (one message per read). Little-endian; the
//! C++ side is `cpp/core/remote_kernel.cpp`, and the sizes and magics here
//! must match it (`tests/protocol.rs` parses that file and checks them).
//!
//!   hello   host -> core, once, after the kernel is loaded and confined:
//!           magic u32, version u32, name [u8; 64] (NUL-padded)
//!   command core -> host, one per kernel call:
//!           magic u32, sequence u32, current u32, zero u32, steps u64
//!   reply   host -> core, one per command:
//!           magic u32, sequence u32, status i32, zero u32

/// "OKH1" little-endian.
pub const HELLO_MAGIC: u32 = u32::from_le_bytes(*b"OKH1");
/// "OKC1".
pub const COMMAND_MAGIC: u32 = u32::from_le_bytes(*b"OKC1");
/// "OKR1".
pub const REPLY_MAGIC: u32 = u32::from_le_bytes(*b"OKR1");
pub const PROTOCOL_VERSION: u32 = 1;

pub const NAME_BYTES: usize = 64;
pub const HELLO_BYTES: usize = 8 + NAME_BYTES;
pub const COMMAND_BYTES: usize = 24;
pub const REPLY_BYTES: usize = 16;

/// One kernel call the core asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub sequence: u32,
    /// Which level holds u^n: 0 or 1.
    pub current: u32,
    /// Steps to take, at least 1.
    pub steps: u64,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The hello for a kernel that names itself `name` (cut to 63 bytes, so
/// that it always ends in a NUL).
pub fn encode_hello(name: &str) -> [u8; HELLO_BYTES] {
    let mut bytes = [0u8; HELLO_BYTES];
    bytes[0..4].copy_from_slice(&HELLO_MAGIC.to_le_bytes());
    bytes[4..8].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    let name = name.as_bytes();
    let kept = name.len().min(NAME_BYTES - 1);
    bytes[8..8 + kept].copy_from_slice(&name[..kept]);
    bytes
}

/// A command read from the core; anything but exactly one well-formed
/// message is an error (the host then exits: the core never sends one).
pub fn decode_command(bytes: &[u8]) -> Result<Command, String> {
    if bytes.len() != COMMAND_BYTES {
        return Err(format!(
            "command of {} bytes: must be {COMMAND_BYTES}",
            bytes.len()
        ));
    }
    if u32_at(bytes, 0) != COMMAND_MAGIC {
        return Err("command magic is wrong".to_owned());
    }
    let current = u32_at(bytes, 8);
    let steps = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    if current > 1 || u32_at(bytes, 12) != 0 || steps == 0 {
        return Err(format!(
            "command current = {current}, steps = {steps}: must be 0 or 1, and >= 1"
        ));
    }
    Ok(Command {
        sequence: u32_at(bytes, 4),
        current,
        steps,
    })
}

pub fn encode_command(command: &Command) -> [u8; COMMAND_BYTES] {
    let mut bytes = [0u8; COMMAND_BYTES];
    bytes[0..4].copy_from_slice(&COMMAND_MAGIC.to_le_bytes());
    bytes[4..8].copy_from_slice(&command.sequence.to_le_bytes());
    bytes[8..12].copy_from_slice(&command.current.to_le_bytes());
    bytes[16..24].copy_from_slice(&command.steps.to_le_bytes());
    bytes
}

/// The reply to command `sequence`: the kernel's status.
pub fn encode_reply(sequence: u32, status: i32) -> [u8; REPLY_BYTES] {
    let mut bytes = [0u8; REPLY_BYTES];
    bytes[0..4].copy_from_slice(&REPLY_MAGIC.to_le_bytes());
    bytes[4..8].copy_from_slice(&sequence.to_le_bytes());
    bytes[8..12].copy_from_slice(&status.to_le_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_round_trips_and_malformed_ones_are_refused() {
        let command = Command {
            sequence: 7,
            current: 1,
            steps: 3,
        };
        let bytes = encode_command(&command);
        assert_eq!(decode_command(&bytes), Ok(command));
        assert!(decode_command(&bytes[..23]).is_err());
        let mut wrong = bytes;
        wrong[0] ^= 1;
        assert!(decode_command(&wrong).is_err());
        let mut parity = bytes;
        parity[8] = 2;
        assert!(decode_command(&parity).is_err());
        let zero_steps = encode_command(&Command {
            steps: 0,
            ..command
        });
        assert!(decode_command(&zero_steps).is_err());
    }

    #[test]
    fn a_long_name_is_cut_and_stays_terminated() {
        let hello = encode_hello(&"x".repeat(100));
        assert_eq!(
            u32::from_le_bytes(hello[0..4].try_into().unwrap()),
            HELLO_MAGIC
        );
        assert_eq!(hello[8 + NAME_BYTES - 1], 0);
        assert_eq!(hello[8 + NAME_BYTES - 2], b'x');
    }
}
