template <typename Real>
void step_any(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  if (geometry.dims == 1) {
    step_fast<Real, 0>(host, geometry, state, steps);
  } else if (geometry.dims == 2) {
    step_fast<Real, 1>(host, geometry, state, steps);
  } else if (geometry.dims == 3) {
    step_fast<Real, 2>(host, geometry, state, steps);
  } else {
    step_generic<Real>(host, geometry, state, steps);
  }
}
