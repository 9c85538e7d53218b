// The fast path: 2-D (AXES = 1) and 3-D (AXES = 2) lattices, one row of the
// last axis at a time, with its neighbour rows along the first AXES axes.
template <typename Real, unsigned AXES>
struct RowView {
  const Real* here;
  const Real* plus[AXES];
  const Real* minus[AXES];
  Real* out;
};

// Rows one after another from a given row: the plane and line of the row it
// is at, stepped without the division per row that a 3-D row's plane and
// line would otherwise cost (a division is as dear as a span of 64 cells).
template <typename Real, unsigned AXES>
struct RowCursor {
  std::uint64_t extent;
  std::uint64_t planes;
  std::uint64_t lines;
  std::uint64_t plane;
  std::uint64_t line;

  void next() {
    if (++line < lines) return;
    line = 0;
    plane = plane + 1 == planes ? 0 : plane + 1;
  }

  RowView<Real, AXES> view(const Real* newer, Real* older) const {
    const std::uint64_t up = plane + 1 == planes ? 0 : plane + 1;
    const std::uint64_t down = plane == 0 ? planes - 1 : plane - 1;
    const std::uint64_t row = plane * lines + line;
    RowView<Real, AXES> view{};
    view.here = newer + row * extent;
    view.out = older + row * extent;
    view.plus[0] = newer + (up * lines + line) * extent;
    view.minus[0] = newer + (down * lines + line) * extent;
    if constexpr (AXES == 2) {
      const std::uint64_t next_line = line + 1 == lines ? 0 : line + 1;
      const std::uint64_t previous_line = line == 0 ? lines - 1 : line - 1;
      view.plus[1] = newer + (plane * lines + next_line) * extent;
      view.minus[1] = newer + (plane * lines + previous_line) * extent;
    }
    return view;
  }
};

// The cursor at `row`, one of [0, rows).
template <typename Real, unsigned AXES>
RowCursor<Real, AXES> row_cursor(const ouro_geometry& geometry, std::uint64_t row) {
  // Extents are >= 3; the bound keeps the static analyser, which forgets
  // the extents across a sweep's stores, off a path with no lines.
  std::uint64_t lines = 1;
  if (AXES == 2 && geometry.extents[1] > 0) lines = geometry.extents[1];
  const std::uint64_t plane = row / lines;
  const std::uint64_t line = row % lines;
  return RowCursor<Real, AXES>{geometry.extents[AXES], geometry.extents[0], lines, plane, line};
}

template <typename Real, unsigned AXES>
RowView<Real, AXES> row_view(const ouro_geometry& geometry, const Real* newer, Real* older, std::uint64_t row) {
  return row_cursor<Real, AXES>(geometry, row).view(newer, older);
}

// u^{n+1} of cell i: the reference kernel's operations in its order, less
// its leading "0 +", which can change nothing but the sign of a zero.
template <typename Real, unsigned AXES>
inline Real next_value(const Real* here, const Real* const* plus, const Real* const* minus, Real older, std::uint64_t i,
                       std::uint64_t right, std::uint64_t left, Real r2) {
  const Real centre = here[i];
  Real lap = (plus[0][i] + minus[0][i]) - Real(2) * centre;
  for (unsigned a = 1; a < AXES; ++a) lap += (plus[a][i] + minus[a][i]) - Real(2) * centre;
  lap += (here[right] + here[left]) - Real(2) * centre;
  return Real(2) * centre - older + r2 * lap;
}
