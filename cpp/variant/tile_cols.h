constexpr std::uint64_t TILE_COLS = VARIANT_TILE_COLS;
