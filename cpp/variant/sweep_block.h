// Virtual rows [begin, end) of one level, and of each row the virtual
// columns [first, last) (first < extent, column c being c mod extent): a
// skewed strip of a 2-D trapezoid pass.
template <typename Real, unsigned AXES>
void sweep_block(const ouro_geometry& geometry, const Real* newer, Real* older, std::uint64_t begin, std::uint64_t end,
                 std::uint64_t first, std::uint64_t last) {
  const std::uint64_t extent = geometry.extents[AXES];
  const std::uint64_t rows = geometry.cells / extent;
  const Real r2 = static_cast<Real>(geometry.courant2);
  const std::uint64_t head = last < extent ? last : extent;
  RowCursor<Real, AXES> cursor = row_cursor<Real, AXES>(geometry, begin < rows ? begin : begin - rows);
  for (std::uint64_t v = begin; v < end; ++v, cursor.next()) {
    const RowView<Real, AXES> view = cursor.view(newer, older);
    VARIANT_HEAD_SPAN_CALL
    if (last > extent) {
      VARIANT_WRAP_SPAN_CALL
    }
  }
  VARIANT_FENCE
}

// Step `step` (from 1) of the pass over virtual rows [first, last) and virtual columns [col_first, col_last): a 2-D lattice's only.
template <typename Real, unsigned AXES>
void advance_block(const ouro_geometry& geometry, const ouro_state& state, std::uint32_t current, std::uint64_t step,
                   std::uint64_t first, std::uint64_t last, std::uint64_t col_first, std::uint64_t col_last) {
  if constexpr (AXES == 1) {
    const auto older = static_cast<std::uint32_t>((current + step) % 2);
    const auto* newer_level = static_cast<const Real*>(state.level[1 - older]);
    auto* older_level = static_cast<Real*>(state.level[older]);
    sweep_block<Real, 1>(geometry, newer_level, older_level, first, last, col_first, col_last);
  }
}

// Columns per skewed strip of a 2-D pass: the genome's strip, widened to
// more than twice the deepest skew (FUSED_STEPS - 1 cache lines) and a
// whole number of lines; 0 (whole rows) when the row is not wider.
template <typename Real, unsigned AXES>
std::uint64_t skewed_strip(const ouro_geometry& geometry) {
  constexpr std::uint64_t line_reals = 64 / sizeof(Real);
  constexpr std::uint64_t narrowest = (2 * FUSED_STEPS - 1) * line_reals;
  const std::uint64_t extent = geometry.extents[AXES];
  const std::uint64_t cols = strip_cols<Real, AXES>(extent);
  const std::uint64_t strip = cols > narrowest ? (cols + line_reals - 1) / line_reals * line_reals : narrowest;
  return AXES == 1 && strip < extent ? strip : 0;
}
