#include "core_values.h"

#include "js_convert.h"

#include <algorithm>
#include <cstring>

namespace ouro::addon {

ouro_precision precision_of(const LatticeCore& core) { return static_cast<ouro_precision>(core.geometry().precision); }

/// `cells` values of `precision` at `from`, as doubles at `to` (exact: every f32 is a double).
void widen_into(ouro_precision precision, const void* from, double* to, std::uint64_t cells) {
  if (precision == OURO_PRECISION_F64) {
    std::memcpy(to, from, cells * sizeof(double));
    return;
  }
  const auto* values = static_cast<const float*>(from);
  std::copy(values, values + cells, to);
}

Napi::Object field_pair(Napi::Env env, Napi::Value previous, Napi::Value current) {
  Napi::Object pair = Napi::Object::New(env);
  pair.Set("previous", previous);
  pair.Set("current", current);
  return pair;
}

Napi::Number number(Napi::Env env, std::uint64_t value) { return Napi::Number::New(env, static_cast<double>(value)); }

Napi::Object swap_outcome(Napi::Env env, const SwapOutcome& outcome) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("slot", slot_name(outcome.slot));
  result.Set("fromId", outcome.from_id);
  result.Set("fromName", outcome.from_name);
  result.Set("toId", outcome.to_id);
  result.Set("toName", outcome.to_name);
  result.Set("appliedAtStep", number(env, outcome.applied_at_step));
  result.Set("firstStepRan", outcome.first_step_ran);
  result.Set("gapNs", number(env, outcome.gap_ns));
  return result;
}

/// A copy of a field argument, owned by a worker (the JS array may change or be collected meanwhile).
std::shared_ptr<std::vector<std::byte>> owned_field(const Napi::Value& value, const char* name, LatticeCore& core) {
  const std::uint64_t cells = core.geometry().cells;
  const auto* data = static_cast<const std::byte*>(read_field(value, name, precision_of(core), cells));
  const std::size_t bytes = cells * (precision_of(core) == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float));
  return std::make_shared<std::vector<std::byte>>(data, data + bytes);
}

Napi::Object readout_result(Napi::Env env, const Readout& read) {
  Napi::Object result = Napi::Object::New(env);
  if (read.bad_index) {
    result.Set("digits", env.Null());
    result.Set("badIndex", number(env, *read.bad_index));
    return result;
  }
  Napi::Int8Array digits = Napi::Int8Array::New(env, read.digits.size());
  std::copy(read.digits.begin(), read.digits.end(), digits.Data());
  result.Set("digits", digits);
  result.Set("badIndex", env.Null());
  return result;
}

Napi::Object recovery_outcome(Napi::Env env, const RecoveryOutcome& outcome) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("restoredStep", outcome.restored_step ? Napi::Value(number(env, *outcome.restored_step)) : env.Null());
  result.Set("failedStep", number(env, outcome.failed_step));
  result.Set("rollback", swap_outcome(env, outcome.rollback));
  return result;
}

Napi::Object host_failure(Napi::Env env, const HostFailure& failure) {
  Napi::Object result = recovery_outcome(env, failure.recovery);
  result.Set("reason", failure.reason);
  result.Set("recoveredNs", number(env, failure.recovered_ns));
  return result;
}

}  // namespace ouro::addon
