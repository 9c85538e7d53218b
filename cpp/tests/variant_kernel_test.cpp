// Kernels rendered from cpp/variant/ (scripts/render-kernels.mjs, built by
// build_variant_kernels.cmake with the compile gate's hardened flags) compute
// what the reference kernel does on 1-D to 4-D lattices in both precisions,
// for one step, two, odd counts and counts past every genome's fused depth,
// and read out as it does.
#include <gtest/gtest.h>

#include "lattice_fixtures.h"

#include <fstream>
#include <string>
#include <vector>

namespace ouro {
namespace {

using test::copy_level;
using test::load_kernel;
using test::make_lattice;
using test::random_field;

// The kernels ctest's fixture built, by name; an empty or missing list fails rather than passing on nothing.
std::vector<std::string> rendered_kernels() {
  std::ifstream list(std::string(OURO_VARIANT_KERNEL_DIR) + "/kernels.txt");
  std::vector<std::string> names;
  for (std::string name; std::getline(list, name);) {
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

// Extents whose last axis crosses several cache lines and vector widths,
// whose first axis is shorter than the deepest fused pass, rows too long to
// be swept whole (strips of 64 f64 or 128 f32 columns, and a narrower last
// strip), a 2-D lattice deep enough for 6 fused steps whose rows a
// trapezoid pass cuts into skewed strips (of 1024 f64 or 2048 f32 columns),
// a 3-D lattice that a trapezoid pass cuts into several tiles along planes
// and lines (each wrapping at band 0), and one generic (4-D) shape.
const std::vector<std::vector<std::uint64_t>> SHAPES = {{301},      {9, 131},     {5, 1100},   {16, 2500},
                                                        {5, 6, 70}, {24, 20, 40}, {3, 4, 3, 5}};
// 1, 2, odd counts, and more than the deepest fused pass (8) with an odd remainder.
const std::vector<std::uint64_t> STEP_COUNTS = {1, 2, 3, 5, 8, 13};
constexpr double COURANT2 = 0.2;

template <typename Real>
class VariantKernel : public testing::Test {};

using Precisions = testing::Types<double, float>;
TYPED_TEST_SUITE(VariantKernel, Precisions);

// Equal values, not equal bits: a variant may differ from the reference in the sign of a zero (render.ts).
TYPED_TEST(VariantKernel, EveryRenderedKernelStepsAsTheReferenceDoes) {
  using Real = TypeParam;
  const std::vector<std::string> names = rendered_kernels();
  ASSERT_FALSE(names.empty()) << "no kernels listed in " << OURO_VARIANT_KERNEL_DIR << "/kernels.txt";
  const auto reference = test::reference_kernel();
  for (const std::string& name : names) {
    const auto variant = load_kernel(std::string(OURO_VARIANT_KERNEL_DIR) + "/" + name + ".so");
    for (const std::vector<std::uint64_t>& extents : SHAPES) {
      auto lattice = make_lattice<Real>(extents, COURANT2);
      const std::uint64_t cells = lattice->geometry().cells;
      const std::vector<Real> previous = random_field<Real>(cells, 1);
      const std::vector<Real> current = random_field<Real>(cells, 2);
      for (const std::uint64_t steps : STEP_COUNTS) {
        const LevelPair expected = lattice->step_copy_with(*reference, previous.data(), current.data(), steps);
        const LevelPair actual = lattice->step_copy_with(*variant, previous.data(), current.data(), steps);
        EXPECT_EQ(copy_level<Real>(actual.current_level(), cells), copy_level<Real>(expected.current_level(), cells))
            << name << ", " << extents.size() << "-D, " << steps << " steps: u^n";
        EXPECT_EQ(copy_level<Real>(actual.previous_level(), cells), copy_level<Real>(expected.previous_level(), cells))
            << name << ", " << extents.size() << "-D, " << steps << " steps: u^{n-1}";
      }
      const Readout expected = lattice->readout_with(*reference, current.data());
      const Readout actual = lattice->readout_with(*variant, current.data());
      EXPECT_EQ(actual.digits, expected.digits) << name << ", " << extents.size() << "-D: readout";
      EXPECT_EQ(actual.bad_index, expected.bad_index) << name << ", " << extents.size() << "-D: readout";
    }
  }
}

}  // namespace
}  // namespace ouro
