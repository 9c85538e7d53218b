//! `ouroboros-gatekeeper inspect [--trusted-rendering] <module>`: the ELF
//! gate's findings as one JSON object on stdout (problems are data: exit 0).
//! `--trusted-rendering` is the gauntlet's word, after rendering the genome
//! again, that the source is the variant generator's own (scan::Origin).
//! `ouroboros-gatekeeper run --read <dir>... --write <dir> [limits] -- tool args`:
//! confines itself, then replaces itself with the tool.

use ouroboros_gatekeeper::scan::Origin;
use ouroboros_gatekeeper::{confine, inspect};
use serde_json::json;
use std::process::ExitCode;

const USAGE: &str = "usage: ouroboros-gatekeeper inspect [--trusted-rendering] <module> | run --read <dir>... --write <dir> [--memory-mib n] [--cpu-seconds n] [--file-mib n] [--open-files n] -- <tool> [args...]";

fn inspect_command(path: &str, origin: Origin) -> ExitCode {
    let inspection = match std::fs::metadata(path) {
        Ok(meta) if meta.len() > inspect::MAX_MODULE_BYTES => inspect::inspect_size(meta.len()),
        Ok(_) => match std::fs::read(path) {
            Ok(bytes) => inspect::inspect(&bytes, origin),
            Err(error) => inspect::unreadable(&error.to_string()),
        },
        Err(error) => inspect::unreadable(&error.to_string()),
    };
    let problems: Vec<_> = inspection
        .problems
        .iter()
        .map(|p| json!({ "rule": p.rule, "message": p.message }))
        .collect();
    let report = json!({
        "bytes": inspection.bytes,
        "undefined": inspection.undefined,
        "exports": inspection.exports,
        "needed": inspection.needed,
        "problems": problems,
    });
    println!("{report}");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("inspect") if args.len() == 2 => inspect_command(&args[1], Origin::Untrusted),
        Some("inspect") if args.len() == 3 && args[1] == "--trusted-rendering" => {
            inspect_command(&args[2], Origin::TrustedRendering)
        }
        Some("run") => match confine::Plan::parse(&args[1..]) {
            Ok(plan) => confine::run(plan),
            Err(message) => {
                eprintln!("ouroboros-gatekeeper: {message}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
