template <typename Real, unsigned AXES>
struct Sweep {
  const ouro_geometry* geometry;
  const Real* newer;
  Real* older;
  void run(std::uint64_t begin, std::uint64_t end) const { sweep_rows<Real, AXES>(*geometry, newer, older, begin, end); }
};

// One step: u^{n+1} over u^{n-1} in level[1 - current], reading u^n from level[current].
template <typename Real, unsigned AXES>
void sweep_once(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint32_t current) {
  Sweep<Real, AXES> sweep{&geometry, static_cast<const Real*>(state.level[current]),
                          static_cast<Real*>(state.level[1 - current])};
  run_items(host, geometry.cells / geometry.extents[AXES], sweep);
}
