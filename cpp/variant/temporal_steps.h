constexpr std::uint64_t TEMPORAL_STEPS = VARIANT_TEMPORAL_STEPS;
constexpr std::uint64_t WAVEFRONT_PLANES = VARIANT_WAVEFRONT_PLANES;
// Each level of a sweep runs this many blocks behind the level before it.
// With blocks of at least 2 planes, every row a level reads is then final,
// and every u^{n-1} row it writes over has been read by the level before,
// so the rows of one wave are independent and may run on any threads.
constexpr std::uint64_t WAVEFRONT_LAG = 2;

// One wave of a sweep that advances depth levels at once. Level t (from 1)
// writes u^{n+t} over u^{n+t-2} in level[(current + t) % 2]; it covers the
// virtual planes [t - 1, planes + t - 1), one block per wave, so that the
// first planes of u^{n+t} come after the last planes of u^{n+t-1}.
template <typename Real, unsigned AXES>
struct Wave {
  const ouro_geometry* geometry;
  const ouro_state* state;
  std::uint32_t current;
  std::uint64_t depth;
  std::uint64_t wave;
  std::uint64_t lines;

  // The virtual rows [first, last) level t covers in this wave; empty when it waits or is done.
  void level_rows(std::uint64_t level, std::uint64_t& first, std::uint64_t& last) const {
    const std::uint64_t planes = geometry->extents[0];
    const std::uint64_t blocks = (planes + WAVEFRONT_PLANES - 1) / WAVEFRONT_PLANES;
    const std::uint64_t delay = WAVEFRONT_LAG * (level - 1);
    first = 0;
    last = 0;
    if (wave < delay || wave - delay >= blocks) return;
    const std::uint64_t start = level - 1 + (wave - delay) * WAVEFRONT_PLANES;
    const std::uint64_t limit = planes + level - 1;
    first = start * lines;
    last = (start + WAVEFRONT_PLANES < limit ? start + WAVEFRONT_PLANES : limit) * lines;
  }

  std::uint64_t count() const {
    std::uint64_t total = 0;
    for (std::uint64_t level = 1; level <= depth; ++level) {
      std::uint64_t first = 0;
      std::uint64_t last = 0;
      level_rows(level, first, last);
      total += last - first;
    }
    return total;
  }

  // Items [begin, end) of this wave: the rows of level 1, then of level 2, ...
  void run(std::uint64_t begin, std::uint64_t end) const {
    std::uint64_t offset = 0;
    for (std::uint64_t level = 1; level <= depth && offset < end; ++level) {
      std::uint64_t first = 0;
      std::uint64_t last = 0;
      level_rows(level, first, last);
      const std::uint64_t size = last - first;
      const std::uint64_t from = begin > offset ? begin - offset : 0;
      const std::uint64_t to = end - offset < size ? end - offset : size;
      if (from < to) {
        const auto older = static_cast<std::uint32_t>((current + level) % 2);
        sweep_rows<Real, AXES>(*geometry, static_cast<const Real*>(state->level[1 - older]),
                               static_cast<Real*>(state->level[older]), first + from, first + to);
      }
      offset += size;
    }
  }
};

// Sweeps of up to TEMPORAL_STEPS steps: a row is reused by every level of
// the sweep while it is still in cache. A single step left over is a plain sweep.
template <typename Real, unsigned AXES>
void step_fast(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  const std::uint64_t lines = AXES == 1 ? 1 : geometry.extents[1];
  const std::uint64_t blocks = (geometry.extents[0] + WAVEFRONT_PLANES - 1) / WAVEFRONT_PLANES;
  std::uint64_t done = 0;
  while (steps - done > 1) {
    VARIANT_DEPTH
    const auto current = static_cast<std::uint32_t>((state.current + done) % 2);
    const std::uint64_t waves = blocks + WAVEFRONT_LAG * (depth - 1);
    for (std::uint64_t wave = 0; wave < waves; ++wave) {
      Wave<Real, AXES> job{&geometry, &state, current, depth, wave, lines};
      run_items(host, job.count(), job);
    }
    done += depth;
  }
  if (done < steps) sweep_once<Real, AXES>(host, geometry, state, static_cast<std::uint32_t>((state.current + done) % 2));
}
