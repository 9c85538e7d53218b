//! The fixed-size messages between the core and the kernel host, on a
//! `SOCK_SEQPACKET` socketpair (one message per read). Little-endian; the
//! C++ side is `cpp/core/remote_kernel.cpp`, and the sizes and magics here
//! must match it (`tests/protocol.rs` parses that file and checks them).
//!
//!   hello   host -> core, once, after the kernel is loaded and confined:
//!           magic u32, version u32, name [u8; 64] (NUL-padded)
//!   command core -> host, one per kernel call:
//!           magic u32, sequence u32, current u32, kind u32, steps u64
//!   reply   host -> core, one per command:
//!           magic u32, sequence u32, status i32, zero u32, bad_index u64
//!
//! `kind` says what to run on which memory: a step of the live levels or of
//! the workspace's copy (`workspace.rs`), or a readout of level `current`
//! of either into the workspace's digits. A step takes `steps` >= 1; a
//! readout takes none, and its reply's `bad_index` names the first
//! non-finite cell when the status says there is one (0 otherwise).

/// "OKH1" little-endian.
pub const HELLO_MAGIC: u32 = u32::from_le_bytes(*b"OKH1");
/// "OKC1".
pub const COMMAND_MAGIC: u32 = u32::from_le_bytes(*b"OKC1");
/// "OKR1".
pub const REPLY_MAGIC: u32 = u32::from_le_bytes(*b"OKR1");
pub const PROTOCOL_VERSION: u32 = 2;

pub const NAME_BYTES: usize = 64;
pub const HELLO_BYTES: usize = 8 + NAME_BYTES;
pub const COMMAND_BYTES: usize = 24;
pub const REPLY_BYTES: usize = 24;

/// What a command runs, and on which memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// wave_step on the live levels, in place.
    StepLive = 0,
    /// wave_step on the workspace's copy of both levels (the canary's, a self-test's).
    StepWorkspace = 1,
    /// readout of live level `current` into the workspace's digits.
    ReadoutLive = 2,
    /// readout of the workspace's level `current` into its digits.
    ReadoutWorkspace = 3,
}

impl Kind {
    fn from_u32(value: u32) -> Option<Kind> {
        match value {
            0 => Some(Kind::StepLive),
            1 => Some(Kind::StepWorkspace),
            2 => Some(Kind::ReadoutLive),
            3 => Some(Kind::ReadoutWorkspace),
            _ => None,
        }
    }

    pub fn is_step(self) -> bool {
        matches!(self, Kind::StepLive | Kind::StepWorkspace)
    }
}

/// One kernel call the core asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub sequence: u32,
    /// For a step, which level holds u^n; for a readout, the level read: 0 or 1.
    pub current: u32,
    pub kind: Kind,
    /// Steps to take: at least 1 for a step, 0 for a readout.
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
    let kind = Kind::from_u32(u32_at(bytes, 12))
        .ok_or_else(|| format!("command kind = {}: must be 0 to 3", u32_at(bytes, 12)))?;
    let steps = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    if current > 1 || kind.is_step() != (steps > 0) {
        return Err(format!(
            "command current = {current}, kind = {kind:?}, steps = {steps}: current must be 0 or 1, and steps >= 1 for a step, 0 for a readout"
        ));
    }
    Ok(Command {
        sequence: u32_at(bytes, 4),
        current,
        kind,
        steps,
    })
}

pub fn encode_command(command: &Command) -> [u8; COMMAND_BYTES] {
    let mut bytes = [0u8; COMMAND_BYTES];
    bytes[0..4].copy_from_slice(&COMMAND_MAGIC.to_le_bytes());
    bytes[4..8].copy_from_slice(&command.sequence.to_le_bytes());
    bytes[8..12].copy_from_slice(&command.current.to_le_bytes());
    bytes[12..16].copy_from_slice(&(command.kind as u32).to_le_bytes());
    bytes[16..24].copy_from_slice(&command.steps.to_le_bytes());
    bytes
}

/// The reply to command `sequence`: the kernel's status and, for a readout, its bad index.
pub fn encode_reply(sequence: u32, status: i32, bad_index: u64) -> [u8; REPLY_BYTES] {
    let mut bytes = [0u8; REPLY_BYTES];
    bytes[0..4].copy_from_slice(&REPLY_MAGIC.to_le_bytes());
    bytes[4..8].copy_from_slice(&sequence.to_le_bytes());
    bytes[8..12].copy_from_slice(&status.to_le_bytes());
    bytes[16..24].copy_from_slice(&bad_index.to_le_bytes());
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
            kind: Kind::StepWorkspace,
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
        let mut unknown_kind = bytes;
        unknown_kind[12] = 4;
        assert!(decode_command(&unknown_kind).is_err());
        let readout = Command {
            kind: Kind::ReadoutLive,
            steps: 0,
            ..command
        };
        assert_eq!(decode_command(&encode_command(&readout)), Ok(readout));
        let readout_with_steps = encode_command(&Command {
            steps: 1,
            ..readout
        });
        assert!(decode_command(&readout_with_steps).is_err());
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
