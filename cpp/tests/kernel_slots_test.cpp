#include <gtest/gtest.h>

#include "core/kernel_slots.h"
#include "core/module_registry.h"
#include "test_kernels.h"

namespace ouro {
namespace {

TEST(KernelSlots, StartWithOneModuleLiveAndLastKnownGoodEverywhere) {
  const auto reference = test::reference_kernel();
  KernelSlots slots(reference);
  for (Slot slot : {Slot::Step, Slot::Readout}) {
    EXPECT_EQ(&slots.live(slot), reference.get());
    EXPECT_EQ(&slots.last_known_good(slot), reference.get());
    EXPECT_EQ(slots.changes(slot), 0u);
  }
}

TEST(KernelSlots, SwapKeepsTheReplacedModuleAsLastKnownGoodAndRollbackReturnsToIt) {
  const auto reference = test::reference_kernel();
  const auto twin = test::load_kernel(test::reference_twin_kernel_path());
  const auto rows = test::load_kernel(test::rows_kernel_path());
  KernelSlots slots(reference);
  slots.swap(Slot::Step, twin);
  EXPECT_EQ(&slots.live(Slot::Step), twin.get());
  EXPECT_EQ(&slots.last_known_good(Slot::Step), reference.get());
  EXPECT_EQ(&slots.live(Slot::Readout), reference.get());
  slots.swap(Slot::Step, rows);
  EXPECT_EQ(&slots.last_known_good(Slot::Step), twin.get());
  slots.rollback(Slot::Step);
  EXPECT_EQ(&slots.live(Slot::Step), twin.get());
  EXPECT_EQ(&slots.last_known_good(Slot::Step), twin.get());
  EXPECT_EQ(slots.changes(Slot::Step), 3u);
  EXPECT_EQ(slots.changes(Slot::Readout), 0u);
}

TEST(KernelSlots, NamesRoundTrip) {
  for (Slot slot : {Slot::Step, Slot::Readout}) EXPECT_EQ(slot_from_name(slot_name(slot)), slot);
  EXPECT_EQ(slot_from_name("stepper"), std::nullopt);
}

TEST(ModuleRegistry, GivesOneIdPerPathAndFindsItAgain) {
  ModuleRegistry& registry = ModuleRegistry::instance();
  const KernelModule::LoadResult first = registry.load(test::reference_twin_kernel_path());
  const KernelModule::LoadResult second = registry.load(test::reference_twin_kernel_path());
  ASSERT_NE(first.module, nullptr) << first.error();
  EXPECT_EQ(first.module, second.module);
  EXPECT_EQ(registry.find(first.module->id()), first.module);
  EXPECT_EQ(registry.find(0), nullptr);
  EXPECT_STREQ(first.module->name(), "reference-twin");
}

}  // namespace
}  // namespace ouro
