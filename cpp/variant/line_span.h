template <typename Real>
inline Real line_value(const Real* here, Real older, std::uint64_t i, std::uint64_t right, std::uint64_t left, Real r2) {
  const Real centre = here[i];
  const Real lap = (here[right] + here[left]) - Real(2) * centre;
  return Real(2) * centre - older + r2 * lap;
}

template <typename Real>
VARIANT_SPAN_ATTRIBUTES void line_span(const Real* newer, Real* older, std::uint64_t extent, std::uint64_t begin, std::uint64_t end, Real r2) {
  const Real* VARIANT_RESTRICT here = newer;
  Real* VARIANT_RESTRICT out = older;
  VARIANT_LINE_CELLS
  VARIANT_SPAN_BODY
}

template <typename Real>
void sweep_cells(const ouro_geometry& geometry, const Real* newer, Real* older, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t extent = geometry.extents[0];
  const Real r2 = static_cast<Real>(geometry.courant2);
  if (begin < extent) line_span<Real>(newer, older, extent, begin, end < extent ? end : extent, r2);
  if (end > extent) line_span<Real>(newer, older, extent, begin > extent ? begin - extent : 0, end - extent, r2);
  VARIANT_FENCE
}
