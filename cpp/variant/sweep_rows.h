// Virtual rows [begin, end) of one level; virtual row v is row v mod rows, so
// that a wavefront may run past the last plane into the first.
template <typename Real, unsigned AXES>
void sweep_rows(const ouro_geometry& geometry, const Real* newer, Real* older, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t extent = geometry.extents[AXES];
  const std::uint64_t rows = geometry.cells / extent;
  const Real r2 = static_cast<Real>(geometry.courant2);
  VARIANT_ROW_LOOPS
  VARIANT_FENCE
}
