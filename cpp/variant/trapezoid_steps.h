// Passes of up to FUSED_STEPS steps. A pass is no deeper than half the first
// axis, and has no more bands than leave each 2 * depth units, so any
// extent >= 3 and any step count take the same two phases.
template <typename Real, unsigned AXES>
void step_fast(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  const std::uint64_t units = geometry.extents[0];
  const std::uint64_t unit_bytes = geometry.cells / units * sizeof(Real);
  const std::uint64_t chunk = TILE_BYTES > unit_bytes ? TILE_BYTES / unit_bytes : 1;
  const std::uint64_t wanted = VARIANT_WANTED_BANDS;
  std::uint64_t done = 0;
  while (done < steps) {
    std::uint64_t depth = steps - done < FUSED_STEPS ? steps - done : FUSED_STEPS;
    // Down to a depth whose bands of 2 * depth units fit: extents are >= 3, so depth 1 always does.
    while (depth > 1 && 2 * depth > units) --depth;
    const std::uint64_t fit = units / (2 * depth);
    const std::uint64_t bands = wanted < fit ? wanted : fit;
    const auto current = static_cast<std::uint32_t>((state.current + done) % 2);
    const Pass<Real, AXES> pass{advance<Real, AXES>, &geometry, &state, current, depth, units, bands, chunk};
    Trapezoids<Real, AXES> trapezoids{&pass};
    run_bands(host, bands, trapezoids);
    if (depth > 1) {
      Triangles<Real, AXES> triangles{&pass};
      run_bands(host, bands, triangles);
    }
    done += depth;
  }
}
