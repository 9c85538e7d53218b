"""What the Python peers of `ouroboros bench peers` share with the C baseline:
the arguments, the initial state (the same hash of the cell index as
sweep.cpp, so the oracle can check the cells listed in --cells), the timed
loop and the JSON printed on stdout."""
import argparse
import json
import time

import numpy as np


def parse_args(argv, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--extents", required=True, type=lambda text: [int(part) for part in text.split(",")])
    parser.add_argument("--precision", choices=["f64", "f32"], default="f64")
    parser.add_argument("--courant2", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--cells", type=lambda text: [int(part) for part in text.split(",")] if text else [], default=[])
    args = parser.parse_args(argv)
    if not 1 <= len(args.extents) <= 3 or min(args.extents) < 3:
        parser.error("--extents takes 1 to 3 integers, each >= 3")
    if (args.steps > 0) == (args.seconds > 0):
        parser.error("give either --steps N >= 1 or --seconds S > 0")
    return args


def dtype_of(precision):
    return np.float64 if precision == "f64" else np.float32


def initial_level(cells, level, seed, dtype):
    """Wellons' lowbias32 of 2 cell + level + seed * 0x9E3779B9, as sweep.cpp computes it."""
    x = (np.arange(cells, dtype=np.uint64) * 2 + level + seed * 0x9E3779B9) & 0xFFFFFFFF
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return ((x >> np.uint32(8)).astype(np.float64) * 2.0**-23 - 1.0).astype(dtype)


def timed_steps(step_once, args):
    """One untimed step (compilation, first touch), then --steps in all or steps for --seconds; returns (steps, timed, seconds)."""
    step_once()
    timed = 0
    start = time.perf_counter()
    elapsed = 0.0
    while (timed + 1 < args.steps) if args.steps > 0 else (elapsed < args.seconds):
        step_once()
        timed += 1
        elapsed = time.perf_counter() - start
    return timed + 1, timed, elapsed


def report(args, threads, steps, timed, seconds, field, note=None):
    cells = int(np.prod(args.extents))
    flat = field.reshape(-1)
    result = {
        "extents": args.extents,
        "precision": args.precision,
        "threads": threads,
        "steps": steps,
        "timedSteps": timed,
        "seconds": seconds,
        "mlups": cells * timed / seconds / 1e6 if seconds > 0 else 0.0,
        "samples": [{"cell": cell, "value": float(flat[cell])} for cell in args.cells if cell < cells],
    }
    if note is not None:
        result["note"] = note
    print(json.dumps(result))
