constexpr std::uint64_t TILE_COLS = VARIANT_TILE_COLS;
// Strips keep the rows a span reads in L1 while it walks down them; rows
// short enough that all of them (the row, its 2 * AXES neighbours and the
// old level's) fit in L1 whole, as a 3-D lattice's usually do, are swept
// whole: narrower strips there only add span calls and break the
// hardware prefetcher's streams.
constexpr std::uint64_t WHOLE_ROWS_BYTES = std::uint64_t{16} * 1024;

template <typename Real, unsigned AXES>
std::uint64_t strip_cols(std::uint64_t extent) {
  return extent * sizeof(Real) * (2 * AXES + 2) <= WHOLE_ROWS_BYTES ? extent : TILE_COLS * sizeof(double) / sizeof(Real);
}
