// The LatticeCore wrapper's profiler: per-slot figures and counters, the FP
// environment restores, and the runner's step trace.
#include "boundary.h"
#include "core_values.h"
#include "js_convert.h"
#include "lattice_core_wrap.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ouro::addon {
namespace {

template <typename Figures>
using Field = std::pair<const char*, std::uint64_t Figures::*>;

/// The figures both a summary and the counters carry, by their names on the JS side: one list for
/// both directions of the conversion.
template <typename Figures>
constexpr std::array<Field<Figures>, 4> kCountedFields{{
    {"calls", &Figures::calls},
    {"steps", &Figures::steps},
    {"totalNs", &Figures::total_ns},
    {"maxNs", &Figures::max_ns},
}};

template <typename Figures>
void set_counted_fields(Napi::Env env, Napi::Object& result, const Figures& figures) {
  for (const auto& [name, member] : kCountedFields<Figures>) result.Set(name, number(env, figures.*member));
}

/// { step, readout }, each slot's value made by `figure`.
template <typename Figure>
Napi::Object per_slot(Napi::Env env, Figure&& figure) {
  Napi::Object result = Napi::Object::New(env);
  for (Slot slot : {Slot::Step, Slot::Readout}) result.Set(slot_name(slot), figure(slot));
  return result;
}

Napi::Object profile_summary(Napi::Env env, const SlotProfile::Summary& summary) {
  Napi::Object result = Napi::Object::New(env);
  set_counted_fields(env, result, summary);
  result.Set("p50Ns", number(env, summary.p50_ns));
  result.Set("p99Ns", number(env, summary.p99_ns));
  return result;
}

Napi::Object profile_counters_object(Napi::Env env, const SlotProfile::Counters& counters) {
  Napi::Object result = Napi::Object::New(env);
  set_counted_fields(env, result, counters);
  Napi::Array histogram = Napi::Array::New(env, counters.histogram.size());
  for (std::size_t index = 0; index < counters.histogram.size(); ++index) {
    Napi::Object bucket = Napi::Object::New(env);
    bucket.Set("lowNs", number(env, counters.histogram[index].first));
    bucket.Set("calls", number(env, counters.histogram[index].second));
    histogram.Set(static_cast<std::uint32_t>(index), bucket);
  }
  result.Set("histogram", histogram);
  return result;
}

SlotProfile::Counters read_profile_counters(const Napi::Value& value) {
  if (!value.IsObject()) throw Napi::TypeError::New(value.Env(), "counters must be an object");
  const auto object = value.As<Napi::Object>();
  SlotProfile::Counters counters;
  for (const auto& [name, member] : kCountedFields<SlotProfile::Counters>)
    counters.*member = read_integer(object.Get(name), ("counters." + std::string(name)).c_str(), 0);
  const Napi::Value histogram = object.Get("histogram");
  if (!histogram.IsArray()) throw Napi::TypeError::New(value.Env(), "counters.histogram must be an array");
  const auto buckets = histogram.As<Napi::Array>();
  for (std::uint32_t index = 0; index < buckets.Length(); ++index) {
    const Napi::Value entry = buckets.Get(index);
    if (!entry.IsObject())
      throw Napi::TypeError::New(value.Env(), "counters.histogram entries must be { lowNs, calls }");
    const auto bucket = entry.As<Napi::Object>();
    counters.histogram.emplace_back(read_integer(bucket.Get("lowNs"), "counters.histogram[].lowNs", 0),
                                    read_integer(bucket.Get("calls"), "counters.histogram[].calls", 0));
  }
  return counters;
}

}  // namespace

LatticeCoreWrap::Properties LatticeCoreWrap::profile_properties() {
  return {
      InstanceMethod<&LatticeCoreWrap::profile>("profile"),
      InstanceMethod<&LatticeCoreWrap::reset_profile>("resetProfile"),
      InstanceMethod<&LatticeCoreWrap::fp_restores>("fpRestores"),
      InstanceMethod<&LatticeCoreWrap::set_fp_restore>("setFpRestore"),
      InstanceMethod<&LatticeCoreWrap::profile_counters>("profileCounters"),
      InstanceMethod<&LatticeCoreWrap::add_profile_counters>("addProfileCounters"),
      InstanceMethod<&LatticeCoreWrap::trace_steps>("traceSteps"),
      InstanceMethod<&LatticeCoreWrap::take_trace>("takeTrace"),
  };
}

Napi::Value LatticeCoreWrap::profile(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    return per_slot(info.Env(), [&](Slot slot) { return profile_summary(info.Env(), core.profile(slot)); });
  });
}

Napi::Value LatticeCoreWrap::fp_restores(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    return per_slot(info.Env(), [&](Slot slot) { return number(info.Env(), core.fp_restores(slot)); });
  });
}

void LatticeCoreWrap::set_fp_restore(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    if (!info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "enabled must be a boolean");
    open_core(info.Env()).set_fp_restore(info[0].As<Napi::Boolean>().Value());
  });
}

void LatticeCoreWrap::reset_profile(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).reset_profile(); });
}

Napi::Value LatticeCoreWrap::profile_counters(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    return per_slot(info.Env(),
                    [&](Slot slot) { return profile_counters_object(info.Env(), core.profile_counters(slot)); });
  });
}

void LatticeCoreWrap::add_profile_counters(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    core.add_profile_counters(read_slot(info[0], "slot"), read_profile_counters(info[1]));
  });
}

void LatticeCoreWrap::trace_steps(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).trace_steps(read_integer(info[0], "capacity", 0, 1u << 26)); });
}

Napi::Value LatticeCoreWrap::take_trace(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    const std::vector<StepRecord> records = open_core(env).take_trace();
    auto step = Napi::Float64Array::New(env, records.size());
    auto steps = Napi::Float64Array::New(env, records.size());
    auto module_id = Napi::Uint32Array::New(env, records.size());
    auto start_ns = Napi::Float64Array::New(env, records.size());
    auto end_ns = Napi::Float64Array::New(env, records.size());
    auto cone_values = Napi::Float64Array::New(env, records.size());
    auto cone_probed = Napi::Uint8Array::New(env, records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      step[i] = static_cast<double>(records[i].step);
      steps[i] = static_cast<double>(records[i].steps);
      module_id[i] = records[i].module_id;
      start_ns[i] = static_cast<double>(records[i].start_ns);
      end_ns[i] = static_cast<double>(records[i].end_ns);
      cone_values[i] = static_cast<double>(records[i].cone_values);
      cone_probed[i] = records[i].cone_probed ? 1 : 0;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("step", step);
    result.Set("steps", steps);
    result.Set("moduleId", module_id);
    result.Set("startNs", start_ns);
    result.Set("endNs", end_ns);
    result.Set("coneValues", cone_values);
    result.Set("coneProbed", cone_probed);
    return result;
  });
}

}  // namespace ouro::addon
