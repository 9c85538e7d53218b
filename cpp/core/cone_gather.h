#ifndef OUROBOROS_CORE_CONE_GATHER_H
#define OUROBOROS_CORE_CONE_GATHER_H

#include <ouroboros/kernel_abi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ouro {

/// Values in the light cone of `radius` steps around one cell: (2 radius + 1)^dims, saturating.
std::uint64_t cone_values(std::uint32_t dims, std::uint64_t radius);

/**
 * The watchdog's one gather: for each of `cells` (flat indices, below
 * geometry.cells), the values of `level` in the box of side 2 radius + 1
 * centred on it, wrapped around the torus, in the box's row-major order
 * (last axis fastest: the oracle's `stepCones` reads them so), cell after
 * cell into `out`, which holds cells.size() * cone_values(dims, radius)
 * values of the lattice precision. Radius 0 gathers the cells' own values.
 * Copies runs along the last axis (at most two per row where the box fits
 * the extent); never allocates.
 */
void gather_cones(const ouro_geometry& geometry, const void* level, const std::vector<std::uint64_t>& cells,
                  std::uint64_t radius, std::byte* out);

}  // namespace ouro

#endif
