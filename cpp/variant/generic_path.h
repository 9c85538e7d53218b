// Rows of the last axis for any dimension count; the Laplacian is the
// reference's, axis by axis in order, so the result is the reference's bit
// for bit.
template <typename Real>
struct GenericSweep {
  const ouro_geometry* geometry;
  const Real* newer;
  Real* older;
  void run(std::uint64_t begin, std::uint64_t end) const {
    const std::uint32_t dims = geometry->dims;
    const std::uint64_t extent = geometry->extents[dims - 1];
    const Real r2 = static_cast<Real>(geometry->courant2);
    std::uint64_t plus[OURO_MAX_DIMS] = {};
    std::uint64_t minus[OURO_MAX_DIMS] = {};
    for (std::uint64_t row = begin; row < end; ++row) {
      const std::uint64_t start = row * extent;
      std::uint64_t rest = row;
      for (std::uint32_t axis = dims - 1; axis-- > 0;) {
        const std::uint64_t size = geometry->extents[axis];
        const std::uint64_t stride = geometry->strides[axis];
        const std::uint64_t coord = rest % size;
        rest /= size;
        plus[axis] = coord + 1 == size ? start - coord * stride : start + stride;
        minus[axis] = coord == 0 ? start + (size - 1) * stride : start - stride;
      }
      for (std::uint64_t i = 0; i < extent; ++i) {
        const Real here = newer[start + i];
        Real lap = 0;
        for (std::uint32_t axis = 0; axis + 1 < dims; ++axis) {
          lap += (newer[plus[axis] + i] + newer[minus[axis] + i]) - Real(2) * here;
        }
        const Real right = newer[start + (i + 1 == extent ? 0 : i + 1)];
        const Real left = newer[start + (i == 0 ? extent - 1 : i - 1)];
        lap += (right + left) - Real(2) * here;
        older[start + i] = Real(2) * here - older[start + i] + r2 * lap;
      }
    }
  }
};

template <typename Real>
void step_generic(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  const std::uint64_t rows = geometry.cells / geometry.extents[geometry.dims - 1];
  for (std::uint64_t s = 0; s < steps; ++s) {
    const auto newer = static_cast<std::uint32_t>((state.current + s) % 2);
    GenericSweep<Real> sweep{&geometry, static_cast<const Real*>(state.level[newer]),
                             static_cast<Real*>(state.level[1 - newer])};
    run_items(host, rows, sweep);
  }
}
