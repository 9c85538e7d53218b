#ifndef OUROBOROS_TESTS_LATTICE_FIXTURES_H
#define OUROBOROS_TESTS_LATTICE_FIXTURES_H

#include "core/lattice_core.h"
#include "test_kernels.h"

#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace ouro::test {

template <typename Real>
constexpr ouro_precision precision_of = sizeof(Real) == sizeof(double) ? OURO_PRECISION_F64 : OURO_PRECISION_F32;

template <typename Real>
std::unique_ptr<LatticeCore> make_lattice(std::vector<std::uint64_t> extents, double courant2,
                                          std::uint32_t threads = 2, BatchOptions batch = {}) {
  return std::make_unique<LatticeCore>(LatticeConfig{std::move(extents), courant2, precision_of<Real>, threads, batch},
                                       reference_kernel());
}

template <typename Real>
std::vector<Real> copy_level(const void* level, std::uint64_t cells) {
  std::vector<Real> values(cells);
  std::memcpy(values.data(), level, cells * sizeof(Real));
  return values;
}

template <typename Real>
std::vector<Real> random_field(std::uint64_t cells, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<Real> values(cells);
  for (Real& value : values) value = static_cast<Real>(uniform(generator));
  return values;
}

// Bitwise, so that -0 and +0 differ and NaN equals itself.
template <typename Real>
bool same_bits(const std::vector<Real>& a, const std::vector<Real>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Real)) == 0;
}

}  // namespace ouro::test

#endif
