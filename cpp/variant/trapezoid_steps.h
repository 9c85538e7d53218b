// Steps of the next pass: up to FUSED_STEPS of the `left` (>= 1) still to
// take, no deeper than leaves bands of 2 * depth in `units`, and at least one
// (extents are >= 3; the bound also keeps the static analyser off a pass of none).
inline std::uint64_t pass_depth(std::uint64_t left, std::uint64_t units) {
  std::uint64_t depth = left < FUSED_STEPS ? left : FUSED_STEPS;
  while (depth > 1 && 2 * depth > units) --depth;
  return depth > 0 ? depth : 1;
}

// Passes of up to FUSED_STEPS steps. A pass is no deeper than half the first
// axis, and has no more bands than leave each 2 * depth units, so any
// extent >= 3 and any step count take the same two phases.
template <typename Real, unsigned AXES>
void step_banded(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  const std::uint64_t units = geometry.extents[0];
  const std::uint64_t unit_bytes = geometry.cells / units * sizeof(Real);
  const std::uint64_t chunk = TILE_BYTES > unit_bytes ? TILE_BYTES / unit_bytes : 1;
  const std::uint64_t wanted = VARIANT_WANTED_BANDS;
  const std::uint64_t strip = VARIANT_BLOCK_STRIP;
  std::uint64_t done = 0;
  while (done < steps) {
    // Down to a depth whose bands of 2 * depth units fit: extents are >= 3, so depth 1 always does.
    const std::uint64_t depth = pass_depth(steps - done, units);
    const std::uint64_t fit = units / (2 * depth);
    const std::uint64_t bands = wanted < fit ? wanted : fit;
    const auto current = static_cast<std::uint32_t>((state.current + done) % 2);
    const Pass<Real, AXES> pass{advance<Real, AXES>, VARIANT_ADVANCE_BLOCK, &geometry, &state, current, depth, units, bands, chunk, strip};
    Trapezoids<Real, AXES> trapezoids{&pass};
    run_bands(host, bands, trapezoids);
    if (depth > 1) {
      Triangles<Real, AXES> triangles{&pass};
      run_bands(host, bands, triangles);
    }
    done += depth;
  }
}

// Bands of an axis: `wanted` of them, but no more than `fit` (bands of at least 2 * depth units), and at least one.
inline std::uint64_t tile_bands(std::uint64_t wanted, std::uint64_t fit) {
  const std::uint64_t bands = wanted < fit ? wanted : fit;
  return bands > 0 ? bands : 1;
}

// A 3-D lattice's passes of up to FUSED_STEPS steps, in tiles of about
// TILE_BYTES of a level (square in planes and lines), the four phases of
// TilePhase one after another. A pass is no deeper than half the shorter of
// the first two axes.
template <typename Real>
void step_tiled(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  const std::uint64_t planes = geometry.extents[0];
  const std::uint64_t lines = geometry.extents[1];
  const std::uint64_t row_bytes = geometry.extents[2] * sizeof(Real);
  const std::uint64_t tile_rows = row_bytes > 0 && TILE_BYTES > row_bytes ? TILE_BYTES / row_bytes : 1;
  std::uint64_t side = 1;
  while ((side + 1) * (side + 1) <= tile_rows) ++side;
  // Tiles no more planes deep than leave a band of planes per pool thread,
  // so that a lattice of a few tiles still uses every thread.
  const std::uint64_t threads = host.threads > 0 ? host.threads : 1;
  const std::uint64_t per_thread = planes / threads > 0 ? planes / threads : 1;
  const std::uint64_t plane_side = side < per_thread ? side : per_thread;
  const std::uint64_t shorter = planes < lines ? planes : lines;
  std::uint64_t done = 0;
  while (done < steps) {
    const std::uint64_t depth = pass_depth(steps - done, shorter);
    const auto current = static_cast<std::uint32_t>((state.current + done) % 2);
    const std::uint64_t plane_bands = tile_bands(planes / plane_side, planes / 2 / depth);
    const std::uint64_t line_bands = tile_bands(lines / side, lines / 2 / depth);
    // Growing ranges are empty at depth 1: one phase does.
    const std::uint64_t phases = depth > 1 ? 4 : 1;
    for (std::uint64_t phase = 0; phase < phases; ++phase) {
      TilePhase<Real> job{&geometry, &state, current, depth, phase, plane_bands, line_bands};
      run_bands(host, plane_bands * line_bands, job);
    }
    done += depth;
  }
}

template <typename Real, unsigned AXES>
void step_fast(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  if constexpr (AXES == 2) {
    step_tiled<Real>(host, geometry, state, steps);
  } else {
    step_banded<Real, AXES>(host, geometry, state, steps);
  }
}
