constexpr std::uintptr_t ALIGN_BYTES = 64;

template <typename Real, unsigned AXES>
bool aligned(const RowView<Real, AXES>& view) {
  std::uintptr_t bits = reinterpret_cast<std::uintptr_t>(view.here) | reinterpret_cast<std::uintptr_t>(view.out);
  for (unsigned a = 0; a < AXES; ++a) {
    bits |= reinterpret_cast<std::uintptr_t>(view.plus[a]) | reinterpret_cast<std::uintptr_t>(view.minus[a]);
  }
  return bits % ALIGN_BYTES == 0;
}
