#ifndef OUROBOROS_ADDON_CORE_VALUES_H
#define OUROBOROS_ADDON_CORE_VALUES_H

#include <napi.h>

#include "core/lattice_core.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

// The JS values of what the core returns, shared by the LatticeCore wrapper's files.
namespace ouro::addon {

ouro_precision precision_of(const LatticeCore& core);

/// `cells` values of `precision` at `from`, as doubles at `to` (exact: every f32 is a double).
void widen_into(ouro_precision precision, const void* from, double* to, std::uint64_t cells);

/// `{ previous, current }`.
Napi::Object field_pair(Napi::Env env, Napi::Value previous, Napi::Value current);

/// A count or a step as a JS number (exact below 2^53).
Napi::Number number(Napi::Env env, std::uint64_t value);

Napi::Object swap_outcome(Napi::Env env, const SwapOutcome& outcome);

/// A copy of a field argument, owned by a worker (the JS array may change or be collected meanwhile).
std::shared_ptr<std::vector<std::byte>> owned_field(const Napi::Value& value, const char* name, LatticeCore& core);

/// `{ digits, badIndex }`: the digits, or the first non-finite cell.
Napi::Object readout_result(Napi::Env env, const Readout& read);

/// `{ restoredStep, failedStep, rollback }`.
Napi::Object recovery_outcome(Napi::Env env, const RecoveryOutcome& outcome);

/// A recovery with the host's failure: `reason` and `recoveredNs` beside it.
Napi::Object host_failure(Napi::Env env, const HostFailure& failure);

}  // namespace ouro::addon

#endif
