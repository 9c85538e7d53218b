"""Devito peer of `ouroboros bench peers`: the same leapfrog as a Devito
Operator with opt='advanced' and OpenMP. Devito has no periodic boundaries:
it updates the interior only (the outer layer of cells keeps its values),
so only cells farther than the step count from every face match the
periodic oracle, and the bench checks only those. Devito's TimeFunction
keeps three time buffers and applies many steps per call: one call of
--steps is timed whole. Prints one JSON object (or {"missing": "devito"})."""
import json
import os
import sys
import time

os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_LOGGING", "ERROR")

try:
    import devito
    from devito import Eq, Grid, Operator, TimeFunction
except ImportError as error:
    # First, before numpy: a Python that lacks the peer is a row the bench reports as missing, not a failure.
    print(json.dumps({"missing": "devito", "reason": f"{type(error).__name__}: {error}"}))
    sys.exit(0)

from peer_common import dtype_of, initial_level, parse_args, report  # noqa: E402

NOTE = "Devito has no periodic boundaries: interior update only; three time buffers, not two levels in place"


def operator_for(args, dtype):
    grid = Grid(shape=tuple(args.extents), extent=tuple(float(e - 1) for e in args.extents), dtype=dtype)
    u = TimeFunction(name="u", grid=grid, time_order=2, space_order=2)
    r2 = dtype(args.courant2)
    # spacing 1: laplace is the sum over axes of (up + down - 2 centre).
    update = Eq(u.forward, 2 * u - u.backward + r2 * u.laplace, subdomain=grid.interior)
    return u, Operator([update], opt="advanced", language="openmp")


def run(op, u, steps):
    """Steps 1..steps from the levels at time 0 (u^{n-1}) and 1 (u^n); Devito's time index wraps modulo 3."""
    op.apply(time_m=1, time_M=steps)


def main(argv):
    args = parse_args(argv, __doc__)
    dtype = dtype_of(args.precision)
    cells = 1
    for extent in args.extents:
        cells *= extent
    u, op = operator_for(args, dtype)

    def load_initial_state():
        u.data[0] = initial_level(cells, 0, args.seed, dtype).reshape(args.extents)
        u.data[1] = initial_level(cells, 1, args.seed, dtype).reshape(args.extents)
        u.data[2] = u.data[0]

    # Compile and first touch on a one-step run, then time: a fixed --steps run whole, or
    # --seconds by doubling the step count until one call lasts that long.
    load_initial_state()
    run(op, u, 1)
    steps = args.steps if args.steps > 0 else 1
    while True:
        load_initial_state()
        start = time.perf_counter()
        run(op, u, steps)
        seconds = time.perf_counter() - start
        if args.steps > 0 or seconds >= args.seconds:
            break
        steps = max(steps * 2, int(steps * args.seconds / max(seconds, 1e-6)) + 1)
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    report(args, threads, steps, steps, seconds, u.data[(steps + 1) % 3], note=f"devito {devito.__version__}: {NOTE}")


if __name__ == "__main__":
    main(sys.argv[1:])
