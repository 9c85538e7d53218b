//! `ouroboros-sandbox`: runs one candidate kernel through the oracle
//! differential, the invariants, the dojo and the benchmark, confined, and
//! writes one `SandboxReport` (proto/sandbox_report.proto) to stdout.
//!
//!   ouroboros-sandbox --candidate c.so --incumbent reference.so --slot step
//!     [--seed N] [--target 128,128] [--held-out 97,89] [--bench-steps N]
//!     [--bench-samples N] [--dojo-waves N] [--cpu-seconds N] [--memory-mib N]
//!     [--threads N]
//!
//! `--threads` is the size of the pool lent to the candidate through
//! `parallel_for`, the calling thread included, as the live core lends its own.
//!
//! Progress goes to stderr as `phase <name>` lines, so the orchestrator knows
//! where a crash happened. Exit 0 with a report, 2 for bad usage; any other
//! end (a signal, a nonzero code) is the candidate's doing.

use std::io::Write;
use std::path::PathBuf;

use ouroboros_sandbox::bench::{self, BenchPlan, Slot};
use ouroboros_sandbox::confine::{self, Layer, Limits};
use ouroboros_sandbox::kernel::{Kernel, Library};
use ouroboros_sandbox::lattices::parse_extents;
use ouroboros_sandbox::phase::Phase;
use ouroboros_sandbox::pool::Pool;
use ouroboros_sandbox::report::{encode, Report};
use ouroboros_sandbox::rng::Rng;
use ouroboros_sandbox::{differential, dojo, invariants, seccomp};

struct Options {
    candidate: PathBuf,
    incumbent: PathBuf,
    slot: Slot,
    seed: u64,
    plan: BenchPlan,
    dojo_waves: usize,
    threads: u32,
    limits: Limits,
}

fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} = \"{value}\": must be an integer in [{min}, {max}]"
        )),
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let get = |flag: &str| -> Option<String> {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).cloned()
    };
    let candidate = get("--candidate").ok_or("--candidate <path to .so> is required")?;
    let incumbent = get("--incumbent").ok_or("--incumbent <path to .so> is required")?;
    let slot = match get("--slot").as_deref().unwrap_or("step") {
        "step" => Slot::Step,
        "readout" => Slot::Readout,
        other => return Err(format!("--slot = \"{other}\": must be step or readout")),
    };
    let seed = number(
        "--seed",
        &get("--seed").unwrap_or_else(|| "1".into()),
        0,
        u64::MAX,
    )?;
    let target = parse_extents(&get("--target").unwrap_or_else(|| "128,128".into()))?;
    let held_out = parse_extents(&get("--held-out").unwrap_or_else(|| "97,89".into()))?;
    let steps = number(
        "--bench-steps",
        &get("--bench-steps").unwrap_or_else(|| "8".into()),
        1,
        100_000,
    )?;
    let samples = number(
        "--bench-samples",
        &get("--bench-samples").unwrap_or_else(|| "15".into()),
        3,
        10_000,
    )? as usize;
    let dojo_waves = number(
        "--dojo-waves",
        &get("--dojo-waves").unwrap_or_else(|| "120".into()),
        1,
        100_000,
    )? as usize;
    let cpu_seconds = number(
        "--cpu-seconds",
        &get("--cpu-seconds").unwrap_or_else(|| "20".into()),
        1,
        3600,
    )?;
    let threads = number(
        "--threads",
        &get("--threads").unwrap_or_else(|| "1".into()),
        1,
        256,
    )? as u32;
    let memory_mib = number(
        "--memory-mib",
        &get("--memory-mib").unwrap_or_else(|| "1024".into()),
        64,
        1 << 20,
    )?;
    Ok(Options {
        candidate: PathBuf::from(candidate),
        incumbent: PathBuf::from(incumbent),
        slot,
        seed,
        plan: BenchPlan {
            slot,
            target,
            held_out,
            steps,
            samples,
        },
        dojo_waves,
        threads,
        limits: Limits {
            cpu_seconds,
            address_space_bytes: memory_mib << 20,
            open_files: 32,
            // Room for the report when stdout is a file; Landlock forbids every other write.
            file_size_bytes: 16 << 20,
        },
    })
}

/// Every layer, in the order the issue fixes: rlimits, namespaces (which
/// need a single-threaded process), Landlock and no_new_privs (per thread,
/// inherited by threads started later), then the pool's threads, then the
/// process limit (which counts threads, so it must follow them) and seccomp
/// on every thread at once (the loader's filter; the run filter follows
/// dlopen).
fn confine(options: &Options) -> Result<(Vec<Layer>, Pool), String> {
    let mut readable = vec![
        options.candidate.clone(),
        options.incumbent.clone(),
        PathBuf::from("/etc/ld.so.cache"),
    ];
    readable.extend(confine::library_directories());
    let mut layers = vec![confine::apply_limits(&options.limits)];
    layers.extend(confine::unshare_namespaces());
    layers.push(confine::enter_pid_namespace());
    layers.push(confine::apply_landlock(&readable));
    let no_new_privs = confine::apply_no_new_privs();
    if !no_new_privs.active {
        return Err(format!(
            "no_new_privs could not be set ({}): seccomp needs it",
            no_new_privs.detail
        ));
    }
    layers.push(no_new_privs);
    let pool = Pool::start(options.threads)
        .map_err(|reason| format!("--threads = {}: {reason}", options.threads))?;
    layers.push(Layer {
        name: "pool",
        active: true,
        detail: format!(
            "threads: {} workers, the caller included; started after landlock and no_new_privs, seccomp TSYNC",
            pool.threads()
        ),
    });
    layers.push(confine::limit_processes());
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    seccomp::install(&seccomp::loader_rules(pid))?;
    layers.push(Layer {
        name: "seccomp",
        active: true,
        detail: "loader filter, then run filter after dlopen, on every thread (TSYNC); kill on violation".to_owned(),
    });
    Ok((layers, pool))
}

/// dlopen both modules under the loader filter, tighten to the run filter,
/// then call the entries: constructors run confined, entries more so. Both
/// kernels are lent `pool` on every call.
fn load<'pool>(
    options: &Options,
    pool: &'pool Pool,
) -> (Phase, Option<(Kernel<'pool>, Kernel<'pool>)>) {
    let mut phase = Phase::start("load");
    let opened = Library::open(&options.candidate)
        .and_then(|c| Library::open(&options.incumbent).map(|i| (c, i)));
    let bound = opened.and_then(|(candidate, incumbent)| {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u32;
        seccomp::install(&seccomp::run_rules(pid))?;
        Ok((candidate.bind(pool)?, incumbent.bind(pool)?))
    });
    match bound {
        Ok(kernels) => {
            phase.case("load", Ok(()));
            (phase.finish(), Some(kernels))
        }
        Err(reason) => {
            phase.case("load", Err(reason));
            (phase.finish(), None)
        }
    }
}

fn run(
    options: &Options,
    candidate: &Kernel,
    incumbent: &Kernel,
    phases: &mut Vec<Phase>,
) -> Vec<bench::Comparison> {
    let mut rng = Rng::new(options.seed);
    let steps: [&dyn Fn(&mut Rng) -> Phase; 3] = match options.slot {
        Slot::Step => [
            &|rng| differential::phase_step(candidate, rng),
            &|rng| invariants::phase_step(candidate, rng),
            &|rng| dojo::phase_step(candidate, rng, options.dojo_waves),
        ],
        Slot::Readout => [
            &|rng| differential::phase_readout(candidate, rng),
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
    let (phase, comparisons) = bench::run(&options.plan, candidate, incumbent, &mut rng);
    phases.push(phase);
    comparisons
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
    let (isolation, pool) = match confine(&options) {
        Ok(confined) => confined,
        Err(message) => {
            eprintln!("ouroboros-sandbox: {message}");
            std::process::exit(3);
        }
    };
    let (load_phase, kernels) = load(&options, &pool);
    let mut phases = vec![load_phase];
    let mut comparisons = Vec::new();
    let mut name = String::new();
    if let Some((candidate, incumbent)) = &kernels {
        name = candidate.name.clone();
        comparisons = run(&options, candidate, incumbent, &mut phases);
    }
    eprintln!("phase report");
    let slot = if options.slot == Slot::Step {
        "step"
    } else {
        "readout"
    };
    let bytes = encode(&Report {
        slot,
        seed: options.seed,
        candidate_name: &name,
        isolation: &isolation,
        phases: &phases,
        bench: &comparisons,
    });
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(4);
    }
}
