template <typename Real, unsigned AXES>
VARIANT_SPAN_ATTRIBUTES inline void span(const RowView<Real, AXES>& view, std::uint64_t extent, std::uint64_t begin, std::uint64_t end, Real r2) {
  const Real* VARIANT_RESTRICT here = view.here;
  const Real* plus[AXES] = {};
  const Real* minus[AXES] = {};
  for (unsigned a = 0; a < AXES; ++a) {
    plus[a] = view.plus[a];
    minus[a] = view.minus[a];
  }
  Real* VARIANT_RESTRICT out = view.out;
  VARIANT_LINE_CELLS
  VARIANT_SPAN_BODY
}
