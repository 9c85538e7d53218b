template <typename Real, unsigned AXES>
void step_fast(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  for (std::uint64_t s = 0; s < steps; ++s) {
    sweep_once<Real, AXES>(host, geometry, state, static_cast<std::uint32_t>((state.current + s) % 2));
  }
}
