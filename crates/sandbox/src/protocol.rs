//! The command channel between the supervisor and a worker: one
//! SOCK_SEQPACKET socketpair, the worker's end on `CHANNEL_FD`, and
//! messages of exactly `MESSAGE_BYTES` each way. The supervisor builds
//! commands; it decodes replies strictly (length, magic, kind, every field
//! in range), because after dlopen a reply may be the candidate's forgery.

use crate::abi::{Geometry, MAX_DIMS};

/// The worker's end of the channel.
pub const CHANNEL_FD: i32 = 3;
pub const MESSAGE_BYTES: usize = 256;
const MAGIC: u32 = 0x4f55_524f;
const NAME_BYTES: usize = 32;
const TEXT_BYTES: usize = 160;
/// Where a command's nonce sits, and where a reply to it echoes it.
const NONCE_AT: usize = 240;

/// What the supervisor asks of a worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `calls` calls of wave_step, `steps` steps each, from level[current],
    /// `current` advancing by `steps` after each call.
    Step { current: u32, steps: u64 },
    /// `calls` calls of readout on the field buffer.
    Readout,
}

#[derive(Debug, Clone, Copy)]
pub struct Command {
    /// Drawn afresh by the supervisor for every command; the reply echoes
    /// it, so a reply cannot be prepared before its command arrives.
    pub nonce: u64,
    pub op: Op,
    pub calls: u32,
    pub geometry: Geometry,
}

fn put(buffer: &mut [u8], at: usize, bytes: &[u8]) {
    buffer[at..at + bytes.len()].copy_from_slice(bytes);
}

fn u32_at(buffer: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buffer[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(buffer: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buffer[at..at + 8].try_into().expect("8 bytes"))
}

impl Command {
    pub fn encode(&self) -> [u8; MESSAGE_BYTES] {
        let mut m = [0u8; MESSAGE_BYTES];
        put(&mut m, 0, &MAGIC.to_le_bytes());
        let (op, current, steps) = match self.op {
            Op::Step { current, steps } => (1u32, current, steps),
            Op::Readout => (2u32, 0, 0),
        };
        put(&mut m, 4, &op.to_le_bytes());
        put(&mut m, 8, &current.to_le_bytes());
        put(&mut m, 12, &self.calls.to_le_bytes());
        put(&mut m, 16, &steps.to_le_bytes());
        put(&mut m, 24, &self.geometry.dims.to_le_bytes());
        put(&mut m, 28, &self.geometry.precision.to_le_bytes());
        put(&mut m, 32, &self.geometry.courant2.to_le_bytes());
        for axis in 0..MAX_DIMS {
            put(
                &mut m,
                40 + 8 * axis,
                &self.geometry.extents[axis].to_le_bytes(),
            );
        }
        put(&mut m, NONCE_AT, &self.nonce.to_le_bytes());
        m
    }

    /// The worker's decoding: commands come from the trusted supervisor, so
    /// a malformed one is a bug and ends the worker.
    pub fn decode(m: &[u8]) -> Option<Self> {
        if m.len() != MESSAGE_BYTES || u32_at(m, 0) != MAGIC {
            return None;
        }
        let dims = u32_at(m, 24) as usize;
        if !(1..=MAX_DIMS).contains(&dims) {
            return None;
        }
        let extents: Vec<usize> = (0..dims).map(|a| u64_at(m, 40 + 8 * a) as usize).collect();
        if extents.iter().any(|&n| n < 1) {
            return None;
        }
        let courant2 = f64::from_le_bytes(m[32..40].try_into().ok()?);
        let geometry = Geometry::new(&extents, u32_at(m, 28), courant2);
        let op = match u32_at(m, 4) {
            1 => Op::Step {
                current: u32_at(m, 8) & 1,
                steps: u64_at(m, 16),
            },
            2 => Op::Readout,
            _ => return None,
        };
        Some(Command {
            nonce: u64_at(m, NONCE_AT),
            op,
            calls: u32_at(m, 12),
            geometry,
        })
    }
}

/// What a worker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Where the worker's private lattice buffers start (`PrivateRegions`),
    /// sent first, before any kernel code has run.
    Private { base: u64 },
    /// One isolation layer, sent before the kernel is loaded.
    Layer {
        name: String,
        active: bool,
        detail: String,
    },
    /// The kernel is loaded and bound; its table's name.
    Ready { name: String },
    /// dlopen or the table check failed.
    LoadFailed { reason: String },
    /// Every call of the command returned OK (readout: the last status).
    Done { status: i32 },
    /// Call `call` returned `status`, a status the slot does not allow.
    Status { call: u32, status: i32 },
    /// Call `call` left the floating-point control state changed.
    FpChanged {
        call: u32,
        before: (u32, u16),
        after: (u32, u16),
    },
}

const LAYER: u32 = 1;
const READY: u32 = 2;
const LOAD_FAILED: u32 = 3;
const DONE: u32 = 4;
const STATUS: u32 = 5;
const FP_CHANGED: u32 = 6;
const PRIVATE: u32 = 7;

fn put_text(m: &mut [u8], at: usize, len: usize, text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len().min(len);
    put(m, at, &bytes[..n]);
}

/// Printable ASCII up to the first NUL, or None: a reply is never trusted
/// to carry anything else.
fn text_at(m: &[u8], at: usize, len: usize) -> Option<String> {
    let field = &m[at..at + len];
    let end = field.iter().position(|&b| b == 0).unwrap_or(len);
    if field[end..].iter().any(|&b| b != 0) {
        return None;
    }
    let text = &field[..end];
    text.iter()
        .all(|&b| (0x20..0x7f).contains(&b))
        .then(|| String::from_utf8_lossy(text).into_owned())
}

impl Reply {
    /// The message answering the command with `nonce` (0 before any command).
    pub fn encode(&self, nonce: u64) -> [u8; MESSAGE_BYTES] {
        let mut m = [0u8; MESSAGE_BYTES];
        put(&mut m, 0, &MAGIC.to_le_bytes());
        put(&mut m, NONCE_AT, &nonce.to_le_bytes());
        let kind = match self {
            Reply::Layer {
                name,
                active,
                detail,
            } => {
                m[28] = u8::from(*active);
                put_text(&mut m, 32, NAME_BYTES, name);
                put_text(&mut m, 64, TEXT_BYTES, detail);
                LAYER
            }
            Reply::Ready { name } => {
                put_text(&mut m, 64, TEXT_BYTES, name);
                READY
            }
            Reply::Private { base } => {
                put(&mut m, 16, &base.to_le_bytes());
                PRIVATE
            }
            Reply::LoadFailed { reason } => {
                put_text(&mut m, 64, TEXT_BYTES, reason);
                LOAD_FAILED
            }
            Reply::Done { status } => {
                put(&mut m, 8, &status.to_le_bytes());
                DONE
            }
            Reply::Status { call, status } => {
                put(&mut m, 8, &status.to_le_bytes());
                put(&mut m, 12, &call.to_le_bytes());
                STATUS
            }
            Reply::FpChanged {
                call,
                before,
                after,
            } => {
                put(&mut m, 12, &call.to_le_bytes());
                put(&mut m, 16, &before.0.to_le_bytes());
                put(&mut m, 20, &after.0.to_le_bytes());
                put(&mut m, 24, &before.1.to_le_bytes());
                put(&mut m, 26, &after.1.to_le_bytes());
                FP_CHANGED
            }
        };
        put(&mut m, 4, &kind.to_le_bytes());
        m
    }

    /// The supervisor's strict decoding of the reply to the command with
    /// `nonce`; Err names what is wrong.
    pub fn decode(m: &[u8], nonce: u64) -> Result<Self, String> {
        if m.len() != MESSAGE_BYTES {
            return Err(format!(
                "a reply of {} bytes (a reply has {MESSAGE_BYTES})",
                m.len()
            ));
        }
        if u32_at(m, 0) != MAGIC {
            return Err("a reply without the channel's magic number".to_owned());
        }
        if u64_at(m, NONCE_AT) != nonce {
            return Err("a reply that does not answer the command sent".to_owned());
        }
        let status = u32_at(m, 8) as i32;
        let call = u32_at(m, 12);
        let bad_text = || "a reply with a non-printable text field".to_owned();
        match u32_at(m, 4) {
            LAYER if m[28] <= 1 => Ok(Reply::Layer {
                name: text_at(m, 32, NAME_BYTES).ok_or_else(bad_text)?,
                active: m[28] == 1,
                detail: text_at(m, 64, TEXT_BYTES).ok_or_else(bad_text)?,
            }),
            READY => Ok(Reply::Ready {
                name: text_at(m, 64, TEXT_BYTES).ok_or_else(bad_text)?,
            }),
            LOAD_FAILED => Ok(Reply::LoadFailed {
                reason: text_at(m, 64, TEXT_BYTES).ok_or_else(bad_text)?,
            }),
            DONE => Ok(Reply::Done { status }),
            PRIVATE => Ok(Reply::Private {
                base: u64_at(m, 16),
            }),
            STATUS => Ok(Reply::Status { call, status }),
            FP_CHANGED => Ok(Reply::FpChanged {
                call,
                before: (u32_at(m, 16), u16::from_le_bytes([m[24], m[25]])),
                after: (u32_at(m, 20), u16::from_le_bytes([m[26], m[27]])),
            }),
            kind => Err(format!("a reply of unknown kind {kind}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_replies_round_trip() {
        let command = Command {
            nonce: 99,
            op: Op::Step {
                current: 1,
                steps: 3,
            },
            calls: 16,
            geometry: Geometry::new(&[5, 7, 3], 1, 0.25),
        };
        let decoded = Command::decode(&command.encode()).unwrap();
        assert_eq!(decoded.op, command.op);
        assert_eq!(decoded.calls, 16);
        assert_eq!(decoded.geometry.cells, 105);
        assert_eq!(decoded.geometry.strides[..3], [21, 3, 1]);
        for reply in [
            Reply::Ready {
                name: "reference".into(),
            },
            Reply::Private {
                base: 0x7f12_3460_0000,
            },
            Reply::Status {
                call: 2,
                status: -7,
            },
            Reply::FpChanged {
                call: 0,
                before: (0x1f80, 0x37f),
                after: (0x9fc0, 0x37f),
            },
        ] {
            assert_eq!(Reply::decode(&reply.encode(99), 99).unwrap(), reply);
        }
    }

    #[test]
    fn a_malformed_reply_is_named_never_trusted() {
        let good = Reply::Done { status: 0 }.encode(5);
        assert!(Reply::decode(&good, 5).is_ok());
        assert!(Reply::decode(&good[..100], 5)
            .unwrap_err()
            .contains("100 bytes"));
        assert!(Reply::decode(&good, 6)
            .unwrap_err()
            .contains("does not answer"));
        let mut forged = good;
        forged[0] = 0;
        assert!(Reply::decode(&forged, 5).unwrap_err().contains("magic"));
        let mut unknown = good;
        unknown[4] = 99;
        assert!(Reply::decode(&unknown, 5)
            .unwrap_err()
            .contains("unknown kind"));
        let mut text = Reply::Ready { name: "a".into() }.encode(0);
        text[64] = 0x1b;
        assert!(Reply::decode(&text, 0)
            .unwrap_err()
            .contains("non-printable"));
    }
}
