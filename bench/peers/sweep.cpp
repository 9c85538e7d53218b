/*
 * The shipped C baseline of `ouroboros bench peers`: the strongest
 * conventional kernel for the periodic leapfrog written in plain C++ with
 * OpenMP, one sweep over the lattice per step. The bench compiles it at run
 * time with -O3 -march=native -fopenmp and runs it as a child process.
 *
 * Like the product it keeps two levels and writes u^{n+1} over u^{n-1} in
 * place. The outer axes are split over OpenMP threads; the last axis is an
 * `omp simd` loop with its two periodic ends peeled, so the vector body has
 * no wrap test. Axes other than the last wrap through precomputed row
 * offsets.
 *
 * usage:
 *   sweep --extents 4096,4096 --precision f64 --courant2 0.25 --seed 1
 *         (--steps N | --seconds S) [--cells i,j,...]
 *   sweep --probe --bytes B --repetitions R
 * Prints one JSON object. The initial state is the bench's own hash of the
 * cell index (initialLevel in ts/bench/peers-report.ts computes the same
 * values), so the oracle can check the cells listed in --cells after the run.
 */
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Wellons' lowbias32: a cheap bijective 32-bit hash. Value in [-1, 1) with
// 24 significant bits, so it is exact in f32 and f64 alike.
double initial_value(std::uint64_t cell, std::uint32_t level, std::uint32_t seed) {
  std::uint32_t x = static_cast<std::uint32_t>(2 * cell + level) + seed * 0x9E3779B9u;
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return static_cast<double>(x >> 8) * 0x1p-23 - 1.0;
}

struct Options {
  std::vector<std::uint64_t> extents;
  std::string precision = "f64";
  double courant2 = 0.25;
  std::uint32_t seed = 1;
  std::uint64_t steps = 0;
  double seconds = 0;
  std::vector<std::uint64_t> cells;
  bool probe = false;
  std::uint64_t bytes = 0;
  std::uint32_t repetitions = 5;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "sweep: %s\n", why.c_str());
  std::exit(2);
}

std::vector<std::uint64_t> parse_list(const char* text) {
  std::vector<std::uint64_t> values;
  for (const char* p = text; *p != '\0';) {
    char* end = nullptr;
    values.push_back(std::strtoull(p, &end, 10));
    if (end == p) usage(std::string("not a list of integers: ") + text);
    p = *end == ',' ? end + 1 : end;
  }
  return values;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--probe") {
      o.probe = true;
      continue;
    }
    if (i + 1 >= argc) usage(flag + " needs a value");
    const char* value = argv[++i];
    if (flag == "--extents") o.extents = parse_list(value);
    else if (flag == "--precision") o.precision = value;
    else if (flag == "--courant2") o.courant2 = std::atof(value);
    else if (flag == "--seed") o.seed = static_cast<std::uint32_t>(std::strtoul(value, nullptr, 10));
    else if (flag == "--steps") o.steps = std::strtoull(value, nullptr, 10);
    else if (flag == "--seconds") o.seconds = std::atof(value);
    else if (flag == "--cells") o.cells = parse_list(value);
    else if (flag == "--bytes") o.bytes = std::strtoull(value, nullptr, 10);
    else if (flag == "--repetitions") o.repetitions = static_cast<std::uint32_t>(std::strtoul(value, nullptr, 10));
    else usage("unknown option " + flag);
  }
  return o;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One step, 1-D: u^{n+1} over u^{n-1} in `older`, reading u^n from `cur`.
template <typename Real>
void step_1d(std::uint64_t n, Real r2, const Real* cur, Real* older) {
  older[0] = Real(2) * cur[0] - older[0] + r2 * ((cur[1] + cur[n - 1]) - Real(2) * cur[0]);
#pragma omp parallel for simd schedule(static)
  for (std::uint64_t x = 1; x < n - 1; ++x) {
    older[x] = Real(2) * cur[x] - older[x] + r2 * ((cur[x + 1] + cur[x - 1]) - Real(2) * cur[x]);
  }
  older[n - 1] = Real(2) * cur[n - 1] - older[n - 1] + r2 * ((cur[0] + cur[n - 2]) - Real(2) * cur[n - 1]);
}

// One row of the last axis: `sides` holds the 2 (d-1) neighbouring rows of the outer axes.
template <typename Real, int Sides>
inline void step_row(std::uint64_t n, Real r2, Real centre, const Real* c, const Real* const* sides, Real* o) {
  auto outer = [&](std::uint64_t x) {
    Real sum = 0;
    for (int s = 0; s < Sides; ++s) sum += sides[s][x];
    return sum;
  };
  o[0] = Real(2) * c[0] - o[0] + r2 * ((c[1] + c[n - 1]) + outer(0) - centre * c[0]);
#pragma omp simd
  for (std::uint64_t x = 1; x < n - 1; ++x) {
    o[x] = Real(2) * c[x] - o[x] + r2 * ((c[x + 1] + c[x - 1]) + outer(x) - centre * c[x]);
  }
  o[n - 1] = Real(2) * c[n - 1] - o[n - 1] + r2 * ((c[0] + c[n - 2]) + outer(n - 1) - centre * c[n - 1]);
}

template <typename Real>
void step_2d(std::uint64_t ny, std::uint64_t nx, Real r2, const Real* cur, Real* older) {
#pragma omp parallel for schedule(static)
  for (std::uint64_t y = 0; y < ny; ++y) {
    const Real* sides[2] = {cur + (y + 1 == ny ? 0 : y + 1) * nx, cur + (y == 0 ? ny - 1 : y - 1) * nx};
    step_row<Real, 2>(nx, r2, Real(4), cur + y * nx, sides, older + y * nx);
  }
}

template <typename Real>
void step_3d(std::uint64_t nz, std::uint64_t ny, std::uint64_t nx, Real r2, const Real* cur, Real* older) {
  const std::uint64_t plane = ny * nx;
#pragma omp parallel for collapse(2) schedule(static)
  for (std::uint64_t z = 0; z < nz; ++z) {
    for (std::uint64_t y = 0; y < ny; ++y) {
      const std::uint64_t row = z * plane + y * nx;
      const Real* sides[4] = {cur + (z + 1 == nz ? 0 : z + 1) * plane + y * nx,
                              cur + (z == 0 ? nz - 1 : z - 1) * plane + y * nx,
                              cur + z * plane + (y + 1 == ny ? 0 : y + 1) * nx,
                              cur + z * plane + (y == 0 ? ny - 1 : y - 1) * nx};
      step_row<Real, 4>(nx, r2, Real(6), cur + row, sides, older + row);
    }
  }
}

template <typename Real>
void step(const std::vector<std::uint64_t>& e, Real r2, const Real* cur, Real* older) {
  if (e.size() == 1) step_1d(e[0], r2, cur, older);
  else if (e.size() == 2) step_2d(e[0], e[1], r2, cur, older);
  else step_3d(e[0], e[1], e[2], r2, cur, older);
}

template <typename Real>
int run(const Options& o) {
  std::uint64_t cells = 1;
  for (auto extent : o.extents) cells *= extent;
  // Not std::vector: its value-initialisation would touch every page from one thread.
  auto* levels = static_cast<Real*>(std::aligned_alloc(64, ((2 * cells * sizeof(Real) + 63) / 64) * 64));
  Real* previous = levels;
  Real* current = levels + cells;
#pragma omp parallel for schedule(static)
  for (std::uint64_t i = 0; i < cells; ++i) {
    previous[i] = static_cast<Real>(initial_value(i, 0, o.seed));
    current[i] = static_cast<Real>(initial_value(i, 1, o.seed));
  }
  const Real r2 = static_cast<Real>(o.courant2);
  // One untimed step first: thread start-up and the first touch of the caches are not the kernel's.
  step(o.extents, r2, current, previous);
  std::swap(previous, current);
  std::uint64_t timed = 0;
  const double start = now_seconds();
  double elapsed = 0;
  while (o.steps > 0 ? timed + 1 < o.steps : elapsed < o.seconds) {
    step(o.extents, r2, current, previous);
    std::swap(previous, current);
    ++timed;
    elapsed = now_seconds() - start;
  }
  std::printf("{\"extents\":[");
  for (std::size_t a = 0; a < o.extents.size(); ++a) std::printf("%s%llu", a ? "," : "", (unsigned long long)o.extents[a]);
  std::printf("],\"precision\":\"%s\",\"threads\":%d,\"steps\":%llu,\"timedSteps\":%llu,\"seconds\":%.9f,\"mlups\":%.6f,\"samples\":[",
              o.precision.c_str(), omp_get_max_threads(), (unsigned long long)(timed + 1), (unsigned long long)timed, elapsed,
              elapsed > 0 ? static_cast<double>(cells) * timed / elapsed / 1e6 : 0.0);
  for (std::size_t k = 0; k < o.cells.size(); ++k) {
    const std::uint64_t cell = o.cells[k] < cells ? o.cells[k] : 0;
    std::printf("%s{\"cell\":%llu,\"value\":%.17g}", k ? "," : "", (unsigned long long)cell, static_cast<double>(current[cell]));
  }
  std::printf("]}\n");
  std::free(levels);
  return 0;
}

// Memory probes over `bytes` per array, best of `repetitions`, counting 24
// bytes per element for both: STREAM's triad a = b + s c (which moves 32,
// the write-allocate of `a` uncounted) and the in-place a = s a + b, which
// moves what it counts, as an in-place stencil does (two reads, one write
// back to a line it read).
int probe(const Options& o) {
  const std::uint64_t n = o.bytes / sizeof(double);
  auto* a = static_cast<double*>(std::aligned_alloc(64, n * sizeof(double)));
  auto* b = static_cast<double*>(std::aligned_alloc(64, n * sizeof(double)));
  auto* c = static_cast<double*>(std::aligned_alloc(64, n * sizeof(double)));
#pragma omp parallel for schedule(static)
  for (std::uint64_t i = 0; i < n; ++i) {
    a[i] = 0.0;
    b[i] = 1.0;
    c[i] = 2.0;
  }
  double triad = 1e30, in_place = 1e30;
  for (std::uint32_t r = 0; r < o.repetitions; ++r) {
    double t = now_seconds();
#pragma omp parallel for simd schedule(static)
    for (std::uint64_t i = 0; i < n; ++i) a[i] = b[i] + 3.0 * c[i];
    triad = std::min(triad, now_seconds() - t);
    t = now_seconds();
#pragma omp parallel for simd schedule(static)
    for (std::uint64_t i = 0; i < n; ++i) a[i] = 0.5 * a[i] + b[i];
    in_place = std::min(in_place, now_seconds() - t);
  }
  // Read back so neither loop can be dropped: a converges towards 2 from 7.
  double check = a[0] + a[n - 1];
  const double bytes = 24.0 * static_cast<double>(n);
  std::printf("{\"threads\":%d,\"bytesPerArray\":%llu,\"streamTriadGBs\":%.6f,\"inPlaceGBs\":%.6f,\"check\":%.17g}\n",
              omp_get_max_threads(), (unsigned long long)(n * sizeof(double)), bytes / triad / 1e9, bytes / in_place / 1e9, check);
  std::free(a);
  std::free(b);
  std::free(c);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (o.probe) {
    if (o.bytes < 64 * sizeof(double) || o.repetitions == 0) usage("--probe needs --bytes >= 512 and --repetitions >= 1");
    return probe(o);
  }
  if (o.extents.empty() || o.extents.size() > 3) usage("--extents takes 1 to 3 integers");
  for (auto extent : o.extents) {
    if (extent < 3) usage("each extent must be >= 3");
  }
  if ((o.steps == 0) == (o.seconds <= 0)) usage("give either --steps N >= 1 or --seconds S > 0");
  if (o.precision == "f64") return run<double>(o);
  if (o.precision == "f32") return run<float>(o);
  usage("--precision must be f64 or f32");
}
