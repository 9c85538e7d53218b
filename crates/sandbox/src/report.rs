//! The one message the runner writes to stdout, `SandboxReport` of
//! proto/sandbox_report.proto, encoded by hand: the schema is small and a
//! protobuf library would double the runner's build time. Field numbers
//! here must match the schema; the TypeScript tests decode real reports
//! with the generated code.

use crate::bench::Comparison;
use crate::confine::Layer;
use crate::phase::Phase;
use crate::remote::WorkerEnd;

pub const SCHEMA_VERSION: u64 = 1;

#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn uint(&mut self, field: u32, value: u64) {
        self.key(field, 0);
        self.varint(value);
    }

    fn bool(&mut self, field: u32, value: bool) {
        self.uint(field, u64::from(value));
    }

    fn double(&mut self, field: u32, value: f64) {
        self.key(field, 1);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, value: &[u8]) {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
    }

    fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    fn message(&mut self, field: u32, value: Message) {
        self.bytes(field, &value.0);
    }

    fn packed_uints(&mut self, field: u32, values: impl Iterator<Item = u64>) {
        let mut packed = Message::default();
        values.for_each(|v| packed.varint(v));
        self.bytes(field, &packed.0);
    }

    fn packed_doubles(&mut self, field: u32, values: &[f64]) {
        let packed: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(field, &packed);
    }
}

fn layer(layer: &Layer) -> Message {
    let mut m = Message::default();
    m.string(1, layer.name);
    m.bool(2, layer.active);
    m.string(3, &layer.detail);
    m
}

fn phase(phase: &Phase) -> Message {
    let mut m = Message::default();
    m.string(1, phase.name);
    m.bool(2, phase.passed());
    m.string(3, &phase.reason());
    m.uint(4, u64::from(phase.cases));
    m.uint(5, u64::from(phase.failures));
    m.double(6, phase.seconds);
    for finding in &phase.findings {
        m.string(7, finding);
    }
    m
}

fn comparison(comparison: &Comparison) -> Message {
    let mut m = Message::default();
    m.string(1, comparison.lattice);
    m.packed_uints(2, comparison.extents.iter().map(|&n| n as u64));
    m.uint(3, comparison.steps);
    m.packed_doubles(4, &comparison.candidate_ns);
    m.packed_doubles(5, &comparison.incumbent_ns);
    m.double(6, comparison.courant2);
    m.double(7, comparison.round_trip_ns);
    m.double(8, comparison.check_ns_per_sample);
    m.uint(9, comparison.steps_per_call);
    m.double(10, comparison.copy_ns_per_command);
    m
}

fn worker_end(end: &WorkerEnd, phase: &str) -> Message {
    let mut m = Message::default();
    m.string(1, end.role);
    m.string(2, phase);
    m.string(3, &end.reason);
    m.string(4, end.signal.as_deref().unwrap_or(""));
    if let Some(code) = end.exit_code {
        m.uint(5, code as u64);
    }
    m.bool(6, end.timed_out);
    m
}

/// Everything the run found, in the order it ran.
pub struct Report<'a> {
    pub slot: &'a str,
    pub seed: u64,
    pub precision: &'a str,
    pub candidate_name: &'a str,
    pub isolation: &'a [Layer],
    pub phases: &'a [Phase],
    pub bench: &'a [Comparison],
    /// A worker that ended before the run did, and the phase it ended in.
    pub worker_end: Option<&'a WorkerEnd>,
    pub worker_phase: &'a str,
}

pub fn encode(report: &Report<'_>) -> Vec<u8> {
    let mut m = Message::default();
    m.uint(1, SCHEMA_VERSION);
    m.string(2, report.slot);
    m.uint(3, report.seed);
    m.string(4, report.candidate_name);
    report.isolation.iter().for_each(|l| m.message(5, layer(l)));
    report.phases.iter().for_each(|p| m.message(6, phase(p)));
    report
        .bench
        .iter()
        .for_each(|c| m.message(7, comparison(c)));
    m.string(8, report.precision);
    if let Some(end) = report.worker_end {
        m.message(9, worker_end(end, report.worker_phase));
    }
    m.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_follow_the_wire_format() {
        let mut m = Message::default();
        m.uint(1, 300);
        assert_eq!(m.0, vec![0x08, 0xAC, 0x02]);
        let mut s = Message::default();
        s.string(2, "hi");
        assert_eq!(s.0, vec![0x12, 2, b'h', b'i']);
        let mut d = Message::default();
        d.double(6, 1.0);
        assert_eq!(d.0[0], (6 << 3) | 1);
        assert_eq!(&d.0[1..], &1.0f64.to_le_bytes());
    }
}
