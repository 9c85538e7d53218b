template <typename Real, unsigned AXES, bool ALIGNED>
VARIANT_SPAN_ATTRIBUTES inline void span(const RowView<Real, AXES>& view, std::uint64_t extent, std::uint64_t begin, std::uint64_t end, Real r2) {
  const Real* VARIANT_RESTRICT here = ALIGNED ? static_cast<const Real*>(__builtin_assume_aligned(view.here, ALIGN_BYTES)) : view.here;
  const Real* plus[AXES] = {};
  const Real* minus[AXES] = {};
  for (unsigned a = 0; a < AXES; ++a) {
    plus[a] = ALIGNED ? static_cast<const Real*>(__builtin_assume_aligned(view.plus[a], ALIGN_BYTES)) : view.plus[a];
    minus[a] = ALIGNED ? static_cast<const Real*>(__builtin_assume_aligned(view.minus[a], ALIGN_BYTES)) : view.minus[a];
  }
  Real* VARIANT_RESTRICT out = ALIGNED ? static_cast<Real*>(__builtin_assume_aligned(view.out, ALIGN_BYTES)) : view.out;
  VARIANT_LINE_CELLS
  VARIANT_SPAN_BODY
}
