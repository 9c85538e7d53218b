// The fast path: 2-D (AXES = 1) and 3-D (AXES = 2) lattices, one row of the
// last axis at a time, with its neighbour rows along the first AXES axes.
template <typename Real, unsigned AXES>
struct RowView {
  const Real* here;
  const Real* plus[AXES];
  const Real* minus[AXES];
  Real* out;
};

template <typename Real, unsigned AXES>
RowView<Real, AXES> row_view(const ouro_geometry& geometry, const Real* newer, Real* older, std::uint64_t row) {
  const std::uint64_t extent = geometry.extents[AXES];
  const std::uint64_t planes = geometry.extents[0];
  const std::uint64_t lines = AXES == 1 ? 1 : geometry.extents[1];
  const std::uint64_t plane = row / lines;
  const std::uint64_t line = row % lines;
  const std::uint64_t up = plane + 1 == planes ? 0 : plane + 1;
  const std::uint64_t down = plane == 0 ? planes - 1 : plane - 1;
  RowView<Real, AXES> view{};
  view.here = newer + row * extent;
  view.out = older + row * extent;
  view.plus[0] = newer + (up * lines + line) * extent;
  view.minus[0] = newer + (down * lines + line) * extent;
  if constexpr (AXES == 2) {
    const std::uint64_t next = line + 1 == lines ? 0 : line + 1;
    const std::uint64_t previous = line == 0 ? lines - 1 : line - 1;
    view.plus[1] = newer + (plane * lines + next) * extent;
    view.minus[1] = newer + (plane * lines + previous) * extent;
  }
  return view;
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
