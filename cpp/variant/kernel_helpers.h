bool supported(const ouro_geometry& geometry) {
  return geometry.dims >= 1 && geometry.dims <= OURO_MAX_DIMS &&
         (geometry.precision == OURO_PRECISION_F64 || geometry.precision == OURO_PRECISION_F32);
}

// The readout is the reference readout: std::round breaks ties away from
// zero, and the int8 conversion turns -0 into 0.
template <typename Real>
int32_t readout_field(const ouro_geometry& geometry, const Real* field, int8_t* digits, uint64_t* bad_index) {
  for (std::uint64_t cell = 0; cell < geometry.cells; ++cell) {
    if (!std::isfinite(field[cell])) {
      *bad_index = cell;
      return OURO_ERR_NONFINITE;
    }
    const Real nearest = std::round(field[cell]);
    digits[cell] = static_cast<int8_t>(nearest > Real(4) ? Real(4) : nearest < Real(-4) ? Real(-4) : nearest);
  }
  return OURO_OK;
}

int32_t readout(const ouro_host*, const ouro_geometry* geometry, const void* field, int8_t* digits,
                uint64_t* bad_index) {
  if (!supported(*geometry)) return OURO_ERR_UNSUPPORTED;
  if (geometry->precision == OURO_PRECISION_F64) {
    return readout_field(*geometry, static_cast<const double*>(field), digits, bad_index);
  }
  return readout_field(*geometry, static_cast<const float*>(field), digits, bad_index);
}

template <typename Job>
void run_range(void* context, uint64_t begin, uint64_t end) {
  static_cast<const Job*>(context)->run(begin, end);
}

// A job cut into one contiguous band of items per pool thread. Bands
// [begin, end) are one contiguous range of items, run in one call (a loop
// of one call per band made the static analyser's work five times longer).
template <typename Job>
struct Bands {
  const Job* job;
  std::uint64_t count;
  std::uint64_t bands;
  void run(std::uint64_t begin, std::uint64_t end) const { job->run(count * begin / bands, count * end / bands); }
};
