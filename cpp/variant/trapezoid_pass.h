constexpr std::uint64_t FUSED_STEPS = VARIANT_TEMPORAL_STEPS;
constexpr std::uint64_t TILE_BYTES = VARIANT_TILE_BYTES;

// Temporal blocking along the first axis, whose units are a 1-D lattice's
// cells, a 2-D lattice's rows or a 3-D lattice's planes. A pass of depth
// steps cuts the units into bands of at least 2 * depth units. Phase 1:
// each band computes step t (1 ..= depth) over its units [a + t - 1, b - t + 1),
// a trapezoid that needs nothing from another band. Phase 2: around each
// boundary c between bands (c = 0 is the wrap from the last band to the
// first), step t over the units [c - t + 1, c + t - 1), the inverted
// triangle phase 1 left. Both work in place: unit u, last written at step
// s, holds steps s and s - 1 in the two levels, and step t at u is written
// only when u holds t - 1 and t - 2 and its neighbours hold t - 1, so every
// step reads exactly what a plain sweep would.

// x - y, or 0 when y > x.
inline std::uint64_t below(std::uint64_t x, std::uint64_t y) { return x > y ? x - y : 0; }

// Step `step` (from 1) of the pass over virtual units [first, last), unit v being v mod units.
template <typename Real, unsigned AXES>
void advance(const ouro_geometry& geometry, const ouro_state& state, std::uint32_t current, std::uint64_t step,
             std::uint64_t first, std::uint64_t last) {
  const auto older = static_cast<std::uint32_t>((current + step) % 2);
  const auto* newer_level = static_cast<const Real*>(state.level[1 - older]);
  auto* older_level = static_cast<Real*>(state.level[older]);
  if constexpr (AXES == 0) {
    sweep_cells<Real>(geometry, newer_level, older_level, first, last);
  } else {
    const std::uint64_t lines = AXES == 1 ? 1 : geometry.extents[1];
    sweep_rows<Real, AXES>(geometry, newer_level, older_level, first * lines, last * lines);
  }
}

// One step over a range of units (advance), as Pass calls it.
using Advance = void (*)(const ouro_geometry&, const ouro_state&, std::uint32_t, std::uint64_t, std::uint64_t, std::uint64_t);

// One step over a range of rows and a range of virtual columns (advance_block), as Pass calls it.
using AdvanceBlock = void (*)(const ouro_geometry&, const ouro_state&, std::uint32_t, std::uint64_t, std::uint64_t, std::uint64_t,
                              std::uint64_t, std::uint64_t);

template <typename Real, unsigned AXES>
struct Pass {
  // advance<Real, AXES>, called through a pointer: the static analyser then
  // reads it once rather than inlined at every call in the phases' loops,
  // which cut clang-tidy's time on a rendering by a third.
  Advance advance_units;
  // advance_block<Real, AXES> when a 2-D pass walks its rows in skewed strips (strip > 0), else unused.
  AdvanceBlock advance_block;
  const ouro_geometry* geometry;
  const ouro_state* state;
  std::uint32_t current;
  std::uint64_t depth;
  std::uint64_t units;
  std::uint64_t bands;
  // Units a wavefront position advances: TILE_BYTES of a level, at least one unit.
  std::uint64_t chunk;
  // Columns per strip of a 2-D pass's wavefront position, or 0: whole rows.
  std::uint64_t strip;
  // Values per cache line: the skew of a strip's columns per step.
  static constexpr std::uint64_t LINE_REALS = 64 / sizeof(Real);

  std::uint64_t edge(std::uint64_t band) const { return units * band / bands; }

  // Phase 1 for bands [begin, end): a wavefront across the band, step t one
  // unit behind step t - 1, so a position's units are reused while in cache.
  void trapezoids(std::uint64_t begin, std::uint64_t end) const {
    for (std::uint64_t band = begin; band < end; ++band) {
      const std::uint64_t a = edge(band);
      const std::uint64_t b = edge(band + 1);
      for (std::uint64_t front = a; front < b; front += chunk) {
        const std::uint64_t top = b - front > chunk ? front + chunk : b;
        if (strip > 0) {
          strips(a, b, front, top);
          continue;
        }
        for (std::uint64_t step = 1; step <= depth; ++step) {
          const std::uint64_t skew = step - 1;
          const std::uint64_t lo = below(front, skew) > a + skew ? below(front, skew) : a + skew;
          const std::uint64_t hi = below(top, skew) < b - skew ? below(top, skew) : b - skew;
          if (lo < hi) advance_units(*geometry, *state, current, step, lo, hi);
        }
      }
    }
  }

  // The wavefront position [front, top) of band [a, b) a strip of columns at
  // a time, each strip through all the pass's steps while its rows are in
  // L1. Step t of a strip covers its columns skewed left by t - 1 cache
  // lines (a skew of at least one cell per step, and whole lines keep the
  // vectors of a 64-byte-aligned row aligned), so a cell's right neighbour
  // at step t - 1 is in the same strip and its left one in the same or the
  // previous strip: both done. The first strip shrinks from the left
  // instead (its column 0 needs the row's last cell), and the last grows
  // past the row's end by as much (virtual columns, c mod extent), taking
  // the first strip's cells once their left neighbours exist; strips are
  // wider than twice the deepest skew, so each cell of a step is in
  // exactly one strip, and the rows of step t are those a whole-row pass
  // would take, so every step reads what a plain sweep would.
  void strips(std::uint64_t a, std::uint64_t b, std::uint64_t front, std::uint64_t top) const {
    const std::uint64_t extent = geometry->extents[AXES];
    for (std::uint64_t column = 0; column < extent; column += strip) {
      for (std::uint64_t step = 1; step <= depth; ++step) {
        const std::uint64_t skew = step - 1;
        const std::uint64_t lo = below(front, skew) > a + skew ? below(front, skew) : a + skew;
        const std::uint64_t hi = below(top, skew) < b - skew ? below(top, skew) : b - skew;
        const std::uint64_t shift = skew * LINE_REALS;
        const std::uint64_t first = column == 0 ? shift : column - shift;
        const std::uint64_t last = extent - column <= strip ? extent + shift : column + strip - shift;
        if (lo < hi) advance_block(*geometry, *state, current, step, lo, hi, first, last);
      }
    }
  }

  // Phase 2 around the boundaries [begin, end): boundary k is the start of band k.
  void triangles(std::uint64_t begin, std::uint64_t end) const {
    for (std::uint64_t k = begin; k < end; ++k) {
      const std::uint64_t c = k == 0 ? units : edge(k);
      for (std::uint64_t step = 2; step <= depth; ++step) {
        advance_units(*geometry, *state, current, step, c + 1 - step, c + step - 1);
      }
    }
  }
};

template <typename Real, unsigned AXES>
struct Trapezoids {
  const Pass<Real, AXES>* pass;
  void run(std::uint64_t begin, std::uint64_t end) const { pass->trapezoids(begin, end); }
};

template <typename Real, unsigned AXES>
struct Triangles {
  const Pass<Real, AXES>* pass;
  void run(std::uint64_t begin, std::uint64_t end) const { pass->triangles(begin, end); }
};

// A 3-D lattice's pass cuts the lines into bands as well: a plane is too
// large for a wavefront of planes to stay in L2 (256^2 f64 cells are
// 512 KiB, and a pass of depth steps keeps about depth + 2 planes of each
// level live), so a tile is a band of planes by a band of lines, about
// TILE_BYTES of a level. Along each axis a tile's step t covers either its
// band's shrinking range [a + t - 1, b - t + 1) (phase bit clear) or the
// growing range [c - t + 1, c + t - 1) around the boundary c at the band's
// start (bit set). The phases run in order (0: both shrink, 1: lines grow,
// 2: planes grow, 3: both grow), the tiles of one phase on any threads:
// the neighbours of a cell at step t hold step t - 1 from its own tile or
// an earlier phase, and none of them needs step t - 2 of the cell any
// more, so every step reads what a plain sweep would, as in Pass.
template <typename Real>
struct TilePhase {
  const ouro_geometry* geometry;
  const ouro_state* state;
  std::uint32_t current;
  std::uint64_t depth;
  // Bit 0: the line range grows; bit 1: the plane range grows.
  std::uint64_t phase;
  std::uint64_t plane_bands;
  std::uint64_t line_bands;

  // Virtual range of band `band` of `units` at step `step` (bands are at least 2 * depth units).
  static void range(std::uint64_t units, std::uint64_t bands, std::uint64_t band, bool grows, std::uint64_t step,
                    std::uint64_t& first, std::uint64_t& last) {
    const std::uint64_t a = units * band / bands;
    if (grows) {
      const std::uint64_t c = band == 0 ? units : a;
      first = c + 1 - step;
      last = c + step - 1;
    } else {
      first = a + step - 1;
      last = units * (band + 1) / bands + 1 - step;
    }
  }

  // Step `step` over virtual planes [p0, p1) by virtual lines [l0, l1).
  void advance_tile(std::uint64_t step, std::uint64_t p0, std::uint64_t p1, std::uint64_t l0, std::uint64_t l1) const {
    const std::uint64_t planes = geometry->extents[0];
    const std::uint64_t lines = geometry->extents[1];
    const auto older = static_cast<std::uint32_t>((current + step) % 2);
    const auto* newer_level = static_cast<const Real*>(state->level[1 - older]);
    auto* older_level = static_cast<Real*>(state->level[older]);
    // Virtual planes stay below 2 * planes (p1 <= planes + depth - 1); the
    // bound says so to the gauntlet's screen, which reads p1 as unbounded.
    for (std::uint64_t p = p0; p < p1 && p < 2 * planes; ++p) {
      const std::uint64_t row = (p < planes ? p : p - planes) * lines;
      const std::uint64_t head = l1 < lines ? l1 : lines;
      if (l0 < head) sweep_rows<Real, 2>(*geometry, newer_level, older_level, row + l0, row + head);
      if (l1 > lines) sweep_rows<Real, 2>(*geometry, newer_level, older_level, row + (l0 > lines ? l0 - lines : 0), row + l1 - lines);
    }
  }

  // Tiles [begin, end) of this phase, tile = plane band * line_bands + line band.
  void run(std::uint64_t begin, std::uint64_t end) const {
    for (std::uint64_t tile = begin; tile < end; ++tile) {
      for (std::uint64_t step = 1; step <= depth; ++step) {
        std::uint64_t p0 = 0;
        std::uint64_t p1 = 0;
        std::uint64_t l0 = 0;
        std::uint64_t l1 = 0;
        range(geometry->extents[0], plane_bands, tile / line_bands, (phase & 2) != 0, step, p0, p1);
        range(geometry->extents[1], line_bands, tile % line_bands, (phase & 1) != 0, step, l0, l1);
        if (p0 < p1 && l0 < l1) advance_tile(step, p0, p1, l0, l1);
      }
    }
  }
};
