//! One phase of the run (load, differential, invariants, dojo, bench): how
//! many cases it ran, which failed and why.

use std::time::Instant;

/// At most this many findings are kept per phase: the first ones say enough.
const MAX_FINDINGS: usize = 8;

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    pub cases: u32,
    pub failures: u32,
    pub findings: Vec<String>,
    pub seconds: f64,
    started: Instant,
}

impl Phase {
    /// Starts a phase and tells the orchestrator on stderr, so that a crash
    /// inside it is attributed to it.
    pub fn start(name: &'static str) -> Self {
        eprintln!("phase {name}");
        Phase {
            name,
            cases: 0,
            failures: 0,
            findings: Vec::new(),
            seconds: 0.0,
            started: Instant::now(),
        }
    }

    /// Records one case: `Err` is a failure with its reason.
    pub fn case(&mut self, label: &str, outcome: Result<(), String>) {
        self.cases += 1;
        if let Err(reason) = outcome {
            self.failures += 1;
            if self.findings.len() < MAX_FINDINGS {
                self.findings.push(format!("{label}: {reason}"));
            }
        }
    }

    pub fn passed(&self) -> bool {
        self.failures == 0
    }

    /// The one-line reason of a failed phase.
    pub fn reason(&self) -> String {
        match self.findings.first() {
            None => String::new(),
            Some(first) => format!(
                "{} of {} cases failed; first: {first}",
                self.failures, self.cases
            ),
        }
    }

    pub fn finish(mut self) -> Self {
        self.seconds = self.started.elapsed().as_secs_f64();
        self
    }
}
