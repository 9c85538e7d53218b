"""numba peer of `ouroboros bench peers`: the periodic leapfrog as a numba
user would write it, @njit(parallel=True) with prange over the outer axis,
two levels with u^{n+1} written over u^{n-1} in place like the product.
Run as a child process; prints one JSON object (or {"missing": "numba"})."""
import json
import sys

try:
    import numba
    from numba import njit, prange
except ImportError as error:
    # First, before numpy: a Python that lacks the peer is a row the bench reports as missing, not a failure.
    print(json.dumps({"missing": "numba", "reason": f"{type(error).__name__}: {error}"}))
    sys.exit(0)

from peer_common import dtype_of, initial_level, parse_args, report, timed_steps  # noqa: E402


@njit(parallel=True, fastmath=False, cache=True)
def step_1d(cur, old, r2):
    n = cur.shape[0]
    for x in prange(n):
        right = x + 1 if x + 1 < n else 0
        left = x - 1 if x > 0 else n - 1
        old[x] = 2 * cur[x] - old[x] + r2 * ((cur[right] + cur[left]) - 2 * cur[x])


@njit(parallel=True, fastmath=False, cache=True)
def step_2d(cur, old, r2):
    ny, nx = cur.shape
    for y in prange(ny):
        up = y + 1 if y + 1 < ny else 0
        down = y - 1 if y > 0 else ny - 1
        old[y, 0] = 2 * cur[y, 0] - old[y, 0] + r2 * ((cur[y, 1] + cur[y, nx - 1]) + (cur[up, 0] + cur[down, 0]) - 4 * cur[y, 0])
        for x in range(1, nx - 1):
            old[y, x] = 2 * cur[y, x] - old[y, x] + r2 * ((cur[y, x + 1] + cur[y, x - 1]) + (cur[up, x] + cur[down, x]) - 4 * cur[y, x])
        last = nx - 1
        old[y, last] = 2 * cur[y, last] - old[y, last] + r2 * ((cur[y, 0] + cur[y, last - 1]) + (cur[up, last] + cur[down, last]) - 4 * cur[y, last])


@njit(parallel=True, fastmath=False, cache=True)
def step_3d(cur, old, r2):
    nz, ny, nx = cur.shape
    for z in prange(nz):
        zu = z + 1 if z + 1 < nz else 0
        zd = z - 1 if z > 0 else nz - 1
        for y in range(ny):
            yu = y + 1 if y + 1 < ny else 0
            yd = y - 1 if y > 0 else ny - 1
            for x in range(nx):
                right = x + 1 if x + 1 < nx else 0
                left = x - 1 if x > 0 else nx - 1
                outer = (cur[zu, y, x] + cur[zd, y, x]) + (cur[z, yu, x] + cur[z, yd, x])
                old[z, y, x] = 2 * cur[z, y, x] - old[z, y, x] + r2 * ((cur[z, y, right] + cur[z, y, left]) + outer - 6 * cur[z, y, x])


def main(argv):
    args = parse_args(argv, __doc__)
    dtype = dtype_of(args.precision)
    cells = 1
    for extent in args.extents:
        cells *= extent
    levels = [initial_level(cells, level, args.seed, dtype).reshape(args.extents) for level in (0, 1)]
    r2 = dtype(args.courant2)
    kernel = {1: step_1d, 2: step_2d, 3: step_3d}[len(args.extents)]
    state = {"previous": levels[0], "current": levels[1]}

    def step_once():
        kernel(state["current"], state["previous"], r2)
        state["previous"], state["current"] = state["current"], state["previous"]

    steps, timed, seconds = timed_steps(step_once, args)
    report(args, numba.get_num_threads(), steps, timed, seconds, state["current"], note=f"numba {numba.__version__}, parallel=True")


if __name__ == "__main__":
    main(sys.argv[1:])
