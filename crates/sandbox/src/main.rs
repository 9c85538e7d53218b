//! `ouroboros-sandbox`: runs one candidate kernel through the oracle
//! differential, the invariants, the dojo and the benchmark, and writes one
//! `SandboxReport` (proto/sandbox_report.proto) to stdout.
//!
//!   ouroboros-sandbox --candidate c.so --incumbent reference.so --slot step
//!     [--seed N] [--precision f64|f32] [--target 128,128]
//!     [--held-out 97,89 | --held-out-cells N] [--live 4096,4096] [--live-courant2 R] [--steps-per-call N]
//!     [--max-batch-steps N]
//!     [--bench-steps N] [--bench-samples N]
//!     [--incumbent-samples N] [--incumbent-stop-ratio R] [--dojo-waves N]
//!     [--cpu-seconds N] [--memory-mib N] [--threads N] [--worker-program PATH]
//!
//! This process is the supervisor: it never loads a kernel. It creates the
//! lattice buffers and forks one worker per kernel (`worker.rs`)
//! before any thread exists; each worker confines itself, loads its one
//! kernel and steps its private copy of the buffers on command, which the
//! supervisor fills and reads while the worker is stopped. The supervisor times the
//! commands, judges every result with the oracle in its own address space
//! and alone writes the report, so nothing a kernel does can write it.
//! Each forked child at once executes the worker program, so a worker
//! starts from a fresh image: nothing of the supervisor's memory (these
//! options, the seed and its draws, the oracle) is there for a kernel to
//! find. `--worker-program` names it (the gauntlet gives the kernel host's
//! binary, which runs the worker in its `--sandbox-worker` mode, so a kernel
//! that reads its caller's code sees the same program as live); by default
//! it is `ouroboros-sandbox-worker`, staged beside this binary. The fork happens while the
//! supervisor is single-threaded, so it is sound; the execve comes before
//! any confinement, after which nothing can be executed.
//!
//! `--threads` is the size of the pool each worker lends its kernel through
//! `parallel_for`, the calling thread included, as the live core lends its
//! own. `--precision` is the live lattice's: the benchmark and its checks
//! run in it; `--steps-per-call` is how many steps the live runner asks of
//! each wave_step call (default 1), the benchmark's call pattern and one of
//! the differential's. Without `--held-out` the held-out lattice is drawn
//! from the seed: odd extents, the target's dimension count, about
//! `--held-out-cells` cells (default 8192). `--live` is the live lattice's
//! extents, at whose size the differential checks the candidate (default the
//! target): a warm start's re-verification benchmarks on a small target but
//! must still check the size the module runs at. `--live-courant2` is the
//! live lattice's r^2, in (0, 1 / dims): the live cases that start from
//! states of the live kind step at it (default drawn), since a user's r^2
//! is a round value that no draw gives. `--max-batch-steps` is the longest
//! batch the live runner may make (`lattice.maxBatchSteps`, default 64): the
//! differential's one long call on the live lattice may be that long.
//! `--incumbent-samples` (default
//! `--bench-samples`) is how many of each lattice's samples also time the
//! incumbent; the candidate is timed and checked in all of them.
//! `--incumbent-stop-ratio R` (in (0, 1]) stops timing the incumbent earlier,
//! once every candidate sample took at most R times every incumbent sample.
//! `--priority idle` (default `normal`) runs the supervisor and its workers
//! under SCHED_IDLE (priority.rs): a re-verification of a module already live
//! takes only the CPU the live simulation leaves.
//!
//! Progress goes to stderr as `phase <name>` lines. Exit 0 with a report
//! (a worker's death is a failed phase in it), 2 for bad usage, 3 when the
//! supervisor could not set up the run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ouroboros_sandbox::abi::{PRECISION_F32, PRECISION_F64};
use ouroboros_sandbox::bench::{self, BenchPlan, Comparison, Slot};
use ouroboros_sandbox::confine::{Layer, Limits};
use ouroboros_sandbox::differential::LiveLattice;
use ouroboros_sandbox::float::Float;
use ouroboros_sandbox::lattices::{held_out_extents, parse_extents};
use ouroboros_sandbox::live_states::DEFAULT_LONGEST_BATCH;
use ouroboros_sandbox::phase::Phase;
use ouroboros_sandbox::priority::{self, Priority};
use ouroboros_sandbox::remote::{Remote, Worker, WorkerEnd};
use ouroboros_sandbox::report::{encode, Report};
use ouroboros_sandbox::rng::Rng;
use ouroboros_sandbox::shared::{huge_page_mode, Layout, SharedBuffers};
use ouroboros_sandbox::worker::{WorkerPlan, WORKER_PROGRAM};
use ouroboros_sandbox::{differential, dojo, invariants, worker_handle};

struct Options {
    candidate: PathBuf,
    incumbent: PathBuf,
    slot: Slot,
    seed: u64,
    precision: u32,
    /// The live lattice the differential checks at its size.
    live: Vec<usize>,
    /// The live lattice's r^2, when given.
    live_courant2: Option<f64>,
    /// The longest batch the live runner may make.
    longest_batch: u64,
    plan: BenchPlan,
    dojo_waves: usize,
    threads: u32,
    limits: Limits,
    priority: Priority,
    /// The program each worker executes, when given.
    worker_program: Option<PathBuf>,
}

/// The most steps one wave_step call is asked for: the live runner's
/// batches stay far below it.
const MAX_STEPS_PER_CALL: u64 = 1024;
/// Keeps the held-out draw apart from the phases' stream of the same seed.
const HELD_OUT_STREAM: u64 = 0x4845_4c44_4f55_5400;

fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} = \"{value}\": must be an integer in [{min}, {max}]"
        )),
    }
}

/// The command line as flags with values: `--name value`.
struct Flags<'a>(&'a [String]);

impl Flags<'_> {
    fn get(&self, flag: &str) -> Option<String> {
        let at = self.0.iter().position(|a| a == flag)?;
        self.0.get(at + 1).cloned()
    }

    /// An integer flag in [min, max], `default` when it is absent.
    fn number_or(&self, flag: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
        match self.get(flag) {
            Some(text) => number(flag, &text, min, max),
            None => Ok(default),
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let flags = Flags(args);
    let candidate = flags
        .get("--candidate")
        .ok_or("--candidate <path to .so> is required")?;
    let incumbent = flags
        .get("--incumbent")
        .ok_or("--incumbent <path to .so> is required")?;
    let slot = match flags.get("--slot").as_deref().unwrap_or("step") {
        "step" => Slot::Step,
        "readout" => Slot::Readout,
        other => return Err(format!("--slot = \"{other}\": must be step or readout")),
    };
    let seed = flags.number_or("--seed", 1, 0, u64::MAX)?;
    let precision = match flags.get("--precision").as_deref().unwrap_or("f64") {
        "f64" => PRECISION_F64,
        "f32" => PRECISION_F32,
        other => return Err(format!("--precision = \"{other}\": must be f64 or f32")),
    };
    let target = parse_extents(&flags.get("--target").unwrap_or_else(|| "128,128".into()))?;
    let live = match flags.get("--live") {
        Some(text) => parse_extents(&text)?,
        None => target.clone(),
    };
    let live_courant2 = match flags.get("--live-courant2") {
        Some(text) => Some(live_courant2(&text, live.len())?),
        None => None,
    };
    let plan = bench_plan(&flags, slot, seed, target)?;
    let longest_batch = flags.number_or(
        "--max-batch-steps",
        DEFAULT_LONGEST_BATCH,
        1,
        MAX_STEPS_PER_CALL,
    )?;
    let dojo_waves = flags.number_or("--dojo-waves", 120, 1, 100_000)? as usize;
    let cpu_seconds = flags.number_or("--cpu-seconds", 20, 1, 3600)?;
    let threads = flags.number_or("--threads", 1, 1, 256)? as u32;
    let priority = Priority::parse(&flags.get("--priority").unwrap_or_else(|| "normal".into()))?;
    let memory_mib = flags.number_or("--memory-mib", 1024, 64, 1 << 20)?;
    Ok(Options {
        candidate: module_path("--candidate", &candidate)?,
        incumbent: module_path("--incumbent", &incumbent)?,
        slot,
        seed,
        precision,
        live,
        live_courant2,
        longest_batch,
        plan,
        dojo_waves,
        threads,
        priority,
        worker_program: flags.get("--worker-program").map(PathBuf::from),
        limits: Limits {
            cpu_seconds,
            address_space_bytes: memory_mib << 20,
            open_files: 32,
            // A worker writes no file at all: Landlock and seccomp forbid it.
            file_size_bytes: 0,
        },
    })
}

/// A module's path, made absolute: the workers load it after they have
/// confined themselves, where `dlopen` would search the library path for a
/// bare name and a relative one reached the loader filter's forbidden calls
/// (the worker died of SIGSYS).
fn module_path(flag: &str, path: &str) -> Result<PathBuf, String> {
    std::fs::canonicalize(path)
        .map_err(|error| format!("{flag} = \"{path}\": {error}; it must name a kernel module file"))
}

/// `--live-courant2`: a number in (0, 1 / dims), the scheme's stability limit on `dims` axes.
fn live_courant2(text: &str, dims: usize) -> Result<f64, String> {
    let limit = 1.0 / dims as f64;
    match text.parse::<f64>() {
        Ok(r2) if r2 > 0.0 && r2 < limit => Ok(r2),
        _ => Err(format!(
            "--live-courant2 = \"{text}\": must be a number in (0, {limit}) on the live lattice's {dims} axes"
        )),
    }
}

/// The benchmark's flags: the held-out lattice (given, or drawn from the
/// seed beside `target`), the steps, the samples and the incumbent's share.
fn bench_plan(
    flags: &Flags,
    slot: Slot,
    seed: u64,
    target: Vec<usize>,
) -> Result<BenchPlan, String> {
    let held_out = match flags.get("--held-out") {
        Some(text) => parse_extents(&text)?,
        None => {
            let cells = flags.number_or("--held-out-cells", 8192, 27, 1 << 24)?;
            held_out_extents(
                target.len(),
                cells as usize,
                &mut Rng::new(seed ^ HELD_OUT_STREAM),
            )
        }
    };
    let steps_per_call = flags.number_or("--steps-per-call", 1, 1, MAX_STEPS_PER_CALL)?;
    let steps = flags.number_or("--bench-steps", 8, 1, 100_000)?;
    let samples = flags.number_or("--bench-samples", 15, 3, 10_000)? as usize;
    let incumbent_samples = match flags.get("--incumbent-samples") {
        Some(text) => number("--incumbent-samples", &text, 1, samples as u64)? as usize,
        None => samples,
    };
    let incumbent_stop_ratio = match flags.get("--incumbent-stop-ratio") {
        Some(text) => match text.parse::<f64>() {
            Ok(ratio) if ratio > 0.0 && ratio <= 1.0 => Some(ratio),
            _ => {
                return Err(format!(
                    "--incumbent-stop-ratio = \"{text}\": must be a number in (0, 1]"
                ))
            }
        },
        None => None,
    };
    Ok(BenchPlan {
        slot,
        target,
        held_out,
        steps,
        samples,
        incumbent_samples,
        incumbent_stop_ratio,
        steps_per_call,
    })
}

/// Above every lattice of the correctness phases: the dojo's nine-dimensional
/// waves reach 3^8 * 5 = 32805 cells.
const PHASE_CELLS: usize = 1 << 16;

/// The largest lattice any phase puts in the shared buffers, in bytes of f64.
fn layout(options: &Options) -> Layout {
    let cells = [
        options.plan.target.iter().product::<usize>(),
        options.plan.held_out.iter().product(),
        options.live.iter().product(),
        PHASE_CELLS,
    ];
    Layout::for_bytes(cells.into_iter().max().unwrap_or(1) * 8)
}

/// The worker program: the one given, or the one beside this binary as the build stages it.
fn worker_program(options: &Options) -> Result<PathBuf, String> {
    if let Some(program) = &options.worker_program {
        if !program.is_file() {
            return Err(format!(
                "--worker-program = \"{}\": no such file",
                program.display()
            ));
        }
        return Ok(program.clone());
    }
    let exe = std::env::current_exe().map_err(|error| format!("this program's path: {error}"))?;
    let program = exe.with_file_name(WORKER_PROGRAM);
    if !program.is_file() {
        return Err(format!(
            "the worker program {} is missing: it is staged beside {} by scripts/build-sandbox.mjs",
            program.display(),
            exe.display()
        ));
    }
    Ok(program)
}

fn worker_plan(options: &Options, program: &Path, kernel: &Path, layout: Layout) -> WorkerPlan {
    WorkerPlan {
        program: program.to_path_buf(),
        kernel: kernel.to_path_buf(),
        threads: options.threads,
        limits: options.limits,
        layout,
    }
}

/// The split, recorded first among the isolation entries, then each worker's layers.
fn split_layers(options: &Options, layout: Layout, workers: [&Worker; 2]) -> Vec<Layer> {
    let mut layers = vec![Layer {
        name: "supervisor",
        active: true,
        detail: format!(
            "loads no kernel; owns the report, the timing and the oracle checks; shares no memory with the workers: it copies what each command needs of {} KiB of buffers (both levels out, a level in only when the worker lacks its current copy, the scratch's padding only, its body discarded before every call) into and out of each while it is stopped",
            layout.total_bytes() >> 10
        ),
    }];
    for worker in workers {
        layers.push(Layer {
            name: if worker.role == "candidate" { "worker-candidate" } else { "worker-incumbent" },
            active: true,
            detail: format!(
                "process group {}: its own address space and pool of {} threads, stopped while the other runs; writes only to its channel",
                worker.pid(),
                options.threads
            ),
        });
    }
    layers
}

/// What the kernels ran on, read once the run is over: the workers' private
/// buffers are advised MADV_HUGEPAGE as the live core's levels are, so
/// candidate and incumbent are timed on the pages they will run on live.
fn pages_layer(layout: &Layout, workers: [&Worker; 2]) -> Layer {
    let mode = huge_page_mode();
    let [candidate, incumbent] = workers.map(|worker| {
        // A worker that ended has no buffers left to account.
        worker
            .end()
            .is_none()
            .then(|| worker.huge_page_kib(layout))
            .flatten()
    });
    let in_use = candidate.is_some_and(|kib| kib > 0) || incumbent.is_some_and(|kib| kib > 0);
    let kib = |figure: Option<u64>| {
        figure.map_or("not known (its worker ended first)".to_owned(), |kib| {
            format!("{kib} KiB")
        })
    };
    let detail = match mode.as_deref() {
        Some(mode @ ("always" | "madvise")) => format!(
            "private anonymous buffers advised MADV_HUGEPAGE (transparent_hugepage/enabled: {mode}), as the live lattice's; on transparent huge pages: candidate {}, incumbent {}",
            kib(candidate),
            kib(incumbent)
        ),
        Some(mode) => format!(
            "transparent huge pages are off on this machine (transparent_hugepage/enabled: {mode}): both kernels on 4 KiB pages, as the live lattice's"
        ),
        None => "this kernel has no transparent huge pages: both kernels on 4 KiB pages, as the live lattice's".to_owned(),
    };
    Layer {
        name: "pages",
        active: in_use,
        detail,
    }
}

/// Both workers' layers and loads; the candidate's layers go in the report
/// under their own names, the incumbent's only if one failed.
fn load(candidate: &Worker, incumbent: &Worker, layers: &mut Vec<Layer>) -> (Phase, String) {
    let mut phase = Phase::start("load");
    let (candidate_layers, candidate_load) = candidate.start();
    let (incumbent_layers, incumbent_load) = incumbent.start();
    layers.extend(candidate_layers);
    if let Some(off) = incumbent_layers.iter().find(|layer| !layer.active) {
        layers.push(Layer {
            name: "worker-incumbent-layer",
            active: false,
            detail: format!("{}: {}", off.name, off.detail),
        });
    }
    let name = candidate_load.clone().unwrap_or_default();
    phase.case("load", candidate_load.map(|_| ()));
    if phase.passed() {
        phase.case(
            "incumbent",
            incumbent_load
                .map(|_| ())
                .map_err(|reason| format!("the incumbent did not load: {reason}")),
        );
    }
    (phase.finish(), name)
}

fn run<T: Float>(
    options: &Options,
    candidate: &Remote,
    incumbent: &Remote,
    phases: &mut Vec<Phase>,
) -> Vec<Comparison> {
    let mut rng = Rng::new(options.seed);
    let live = LiveLattice {
        extents: &options.live,
        precision: options.precision,
        steps_per_call: options.plan.steps_per_call,
        longest_batch: options.longest_batch,
        courant2: options.live_courant2,
    };
    let steps: [&dyn Fn(&mut Rng) -> Phase; 3] = match options.slot {
        Slot::Step => [
            &|rng| differential::phase_step(candidate, rng, &live),
            &|rng| invariants::phase_step(candidate, rng),
            &|rng| dojo::phase_step(candidate, rng, options.dojo_waves),
        ],
        Slot::Readout => [
            &|rng| differential::phase_readout(candidate, rng, &live),
            &|rng| invariants::phase_readout(candidate, rng),
            &|rng| dojo::phase_readout(candidate, rng, options.dojo_waves),
        ],
    };
    for phase in steps {
        let result = phase(&mut rng);
        let passed = result.passed();
        phases.push(result);
        if !passed {
            return Vec::new();
        }
    }
    let (phase, comparisons) = bench::run::<T>(&options.plan, candidate, incumbent, &mut rng);
    phases.push(phase);
    comparisons
}

fn fail(message: &str) -> ! {
    eprintln!("ouroboros-sandbox: {message}");
    std::process::exit(3);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("ouroboros-sandbox: {message}");
            std::process::exit(2);
        }
    };
    // Before the workers are forked: they inherit it.
    priority::apply(options.priority).unwrap_or_else(|message| fail(&message));
    worker_handle::become_subreaper().unwrap_or_else(|message| fail(&message));
    let layout = layout(&options);
    let shared = SharedBuffers::new(layout).unwrap_or_else(|message| fail(&message));
    let program = worker_program(&options).unwrap_or_else(|message| fail(&message));
    // A command may take as long as the worker's CPU budget, and no longer.
    let timeout = Duration::from_secs(options.limits.cpu_seconds);
    let spawn = |role, kernel| {
        Worker::spawn(
            role,
            &worker_plan(&options, &program, kernel, layout),
            timeout,
        )
    };
    let candidate = spawn("candidate", &options.candidate).unwrap_or_else(|message| fail(&message));
    let incumbent = spawn("incumbent", &options.incumbent).unwrap_or_else(|message| fail(&message));
    let mut isolation = split_layers(&options, layout, [&candidate, &incumbent]);
    let (load_phase, name) = load(&candidate, &incumbent, &mut isolation);
    let loaded = load_phase.passed();
    let mut phases = vec![load_phase];
    let mut comparisons = Vec::new();
    if loaded {
        let candidate = Remote {
            worker: &candidate,
            shared: &shared,
        };
        let incumbent = Remote {
            worker: &incumbent,
            shared: &shared,
        };
        comparisons = if options.precision == PRECISION_F64 {
            run::<f64>(&options, &candidate, &incumbent, &mut phases)
        } else {
            run::<f32>(&options, &candidate, &incumbent, &mut phases)
        };
    }
    if loaded {
        isolation.push(pages_layer(&layout, [&candidate, &incumbent]));
    }
    let worker_end: Option<WorkerEnd> = candidate.end().or_else(|| incumbent.end());
    eprintln!("phase report");
    let bytes = encode(&Report {
        slot: if options.slot == Slot::Step {
            "step"
        } else {
            "readout"
        },
        seed: options.seed,
        precision: if options.precision == PRECISION_F64 {
            "f64"
        } else {
            "f32"
        },
        candidate_name: &name,
        isolation: &isolation,
        phases: &phases,
        bench: &comparisons,
        worker_end: worker_end.as_ref(),
        worker_phase: phases.last().map(|p| p.name).unwrap_or("load"),
    });
    drop((candidate, incumbent));
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(4);
    }
}
