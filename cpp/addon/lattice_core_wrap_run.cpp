// The LatticeCore wrapper's run control: the runner, the slots' swaps and
// rollbacks, the watchdog's snapshots and probes, the canary and the kernel
// hosts. The rest of the class is in lattice_core_wrap.cpp.
#include "boundary.h"
#include "core_values.h"
#include "js_completion.h"
#include "js_convert.h"
#include "lattice_core_wrap.h"
#include "run_notices.h"

#include "core/cone_gather.h"

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ouro::addon {
namespace {

Napi::Object run_summary(Napi::Env env, const RunSummary& summary) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("startStep", number(env, summary.start_step));
  result.Set("endStep", number(env, summary.end_step));
  result.Set("stepsRun", number(env, summary.steps_run));
  result.Set("runNs", number(env, summary.run_ns));
  result.Set("error", summary.error.empty() ? env.Null() : Napi::String::New(env, summary.error));
  return result;
}

// The completion of a swap or rollback, as a callback the core may call from any thread.
LatticeCore::SwapCallback settle_swap(const std::shared_ptr<JsCompletion>& completion) {
  return [completion](const SwapOutcome& outcome) {
    completion->resolve([outcome](Napi::Env env) { return swap_outcome(env, outcome); });
  };
}

/**
 * A whole-level probe's newest level as a Float64Array. An f64 level is
 * handed over without a copy: the array holds a share of the store's level,
 * which the store writes again only once no share is left (SnapshotStore::
 * finish_probe). An f32 level is widened into an array of its own.
 */
Napi::Float64Array probe_level(Napi::Env env, ouro_precision precision,
                               std::shared_ptr<const std::vector<std::byte>> level, std::uint64_t cells) {
  if (precision != OURO_PRECISION_F64) {
    auto widened = std::make_unique_for_overwrite<double[]>(cells);
    widen_into(precision, level->data(), widened.get(), cells);
    return owned_f64_field(env, std::move(widened), cells);
  }
  auto* data = const_cast<std::byte*>(level->data());
  auto owner = std::make_unique<std::shared_ptr<const std::vector<std::byte>>>(std::move(level));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, data, cells * sizeof(double),
      [](Napi::Env, void*, std::shared_ptr<const std::vector<std::byte>>* released) { delete released; }, owner.get());
  // From here the buffer's finalizer owns the share.
  owner.release();
  return Napi::Float64Array::New(env, cells, buffer, 0);
}

/// A Float64Array of cell indices, each an integer below `cells`.
std::vector<std::uint64_t> read_cells(const Napi::Value& value, std::uint64_t cells) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(value.Env(), "cells must be a Float64Array of cell indices");
  }
  const auto array = value.As<Napi::Float64Array>();
  std::vector<std::uint64_t> probe(array.ElementLength());
  for (std::size_t i = 0; i < probe.size(); ++i) {
    const double cell = array[i];
    if (!(cell >= 0 && cell < static_cast<double>(cells) && std::floor(cell) == cell)) {
      throw Napi::TypeError::New(value.Env(), "cells[" + std::to_string(i) + "] = " + std::to_string(cell) +
                                                  ": must be an integer in [0, " + std::to_string(cells) + ")");
    }
    probe[i] = static_cast<std::uint64_t>(cell);
  }
  return probe;
}

/// A Float64Array lent to be written with at least `needed` values.
double* output_values(const Napi::Value& value, const char* name, std::uint64_t needed) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a Float64Array");
  }
  auto array = value.As<Napi::Float64Array>();
  if (array.ElementLength() < needed) {
    throw Napi::RangeError::New(value.Env(), std::string(name) + " holds " + std::to_string(array.ElementLength()) +
                                                 " values: this cone probe needs " + std::to_string(needed));
  }
  return array.Data();
}

/// Runs a canary's two kernels off the JS thread.
class CanaryWorker : public Napi::AsyncWorker {
 public:
  CanaryWorker(Napi::Env env, std::shared_ptr<LatticeCore> core, CanaryInput input, std::uint64_t steps)
      : Napi::AsyncWorker(env, "ouroboros-canary"),
        deferred_(Napi::Promise::Deferred::New(env)),
        core_(std::move(core)),
        input_(std::move(input)),
        steps_(steps) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      outcome_ = core_->run_canary(input_, steps_);
    } catch (const std::exception& error) {
      SetError(error.what());
    } catch (...) {
      SetError("unknown native exception in the canary");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("slot", slot_name(input_.slot));
    result.Set("startStep", number(env, input_.start_step));
    result.Set("steps", number(env, steps_));
    result.Set("stepsDone", number(env, outcome_->steps_done));
    result.Set("cancelled", outcome_->cancelled);
    result.Set("incumbent", module_info(env, *input_.incumbent));
    result.Set("candidate", module_info(env, *input_.candidate));
    if (outcome_->cancelled) {
      // Nothing was compared: the copies, half-stepped, are not worth their copy on the JS thread.
      result.Set("incumbentLevels", env.Null());
      result.Set("candidateLevels", env.Null());
      deferred_.Resolve(result);
      return;
    }
    const ouro_precision precision = precision_of(*core_);
    const std::uint64_t cells = core_->geometry().cells;
    auto pair = [&](const LevelPair& levels) {
      return field_pair(env, copy_field(env, precision, levels.previous_level(), cells),
                        copy_field(env, precision, levels.current_level(), cells));
    };
    result.Set("incumbentLevels", pair(outcome_->incumbent));
    result.Set("candidateLevels", pair(outcome_->candidate));
    result.Set("maxAbsDifference", outcome_->max_abs_difference);
    result.Set("candidateFpRestores", number(env, outcome_->candidate_fp_restores));
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<LatticeCore> core_;
  CanaryInput input_;
  std::uint64_t steps_;
  std::optional<CanaryOutcome> outcome_;
};

/// Calls a JS function with each kernel host failure, from the runner thread.
struct HostFailureNotifier {
  Napi::ThreadSafeFunction notify;
  ~HostFailureNotifier() { notify.Release(); }
};

}  // namespace

LatticeCoreWrap::Properties LatticeCoreWrap::run_properties() {
  return {
      InstanceMethod<&LatticeCoreWrap::run>("run"),
      InstanceMethod<&LatticeCoreWrap::pause>("pause"),
      InstanceMethod<&LatticeCoreWrap::resume>("resume"),
      InstanceMethod<&LatticeCoreWrap::stop>("stop"),
      InstanceAccessor<&LatticeCoreWrap::running>("running"),
      InstanceAccessor<&LatticeCoreWrap::paused>("paused"),
      InstanceMethod<&LatticeCoreWrap::swap>("swap"),
      InstanceMethod<&LatticeCoreWrap::rollback>("rollback"),
      InstanceMethod<&LatticeCoreWrap::slots>("slots"),
      InstanceMethod<&LatticeCoreWrap::wait_for_boundary>("waitForBoundary"),
  };
}

LatticeCoreWrap::Properties LatticeCoreWrap::watchdog_properties() {
  return {
      InstanceMethod<&LatticeCoreWrap::copy_snapshot>("copySnapshot"),
      InstanceMethod<&LatticeCoreWrap::settle_snapshot>("settleSnapshot"),
      InstanceMethod<&LatticeCoreWrap::set_probe>("setProbe"),
      InstanceMethod<&LatticeCoreWrap::set_probe_whole_level>("setProbeWholeLevel"),
      InstanceMethod<&LatticeCoreWrap::defer_snapshots>("deferSnapshots"),
      InstanceMethod<&LatticeCoreWrap::arm_cone_probe>("armConeProbe"),
      InstanceMethod<&LatticeCoreWrap::take_cone_probe>("takeConeProbe"),
      InstanceMethod<&LatticeCoreWrap::set_cone_take_rate>("setConeTakeRate"),
      InstanceMethod<&LatticeCoreWrap::settle_cone_probe>("settleConeProbe"),
      InstanceMethod<&LatticeCoreWrap::watchdog_counters>("watchdogCounters"),
      InstanceMethod<&LatticeCoreWrap::recover>("recover"),
      InstanceMethod<&LatticeCoreWrap::canary>("canary"),
      InstanceMethod<&LatticeCoreWrap::cancel_canaries>("cancelCanaries"),
      InstanceMethod<&LatticeCoreWrap::open_kernel_host_workspace>("openKernelHostWorkspace"),
      InstanceMethod<&LatticeCoreWrap::connect_kernel_host>("connectKernelHost"),
  };
}

// ---------------------------------------------------------------- the runner

Napi::Value LatticeCoreWrap::run(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    RunOptions options;
    options.max_steps = read_integer(info[0], "maxSteps", 0);
    options.snapshot_every = read_integer(info[1], "snapshotEvery", 0);
    Napi::Function on_snapshot_listener;
    if (options.snapshot_every > 0) {
      if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "onSnapshot must be a function");
      on_snapshot_listener = info[2].As<Napi::Function>();
    }
    const Napi::Function on_cone_probe_listener =
        info[4].IsFunction() ? info[4].As<Napi::Function>() : Napi::Function();
    std::shared_ptr<RunNotices> notices = RunNotices::create(env, on_snapshot_listener, on_cone_probe_listener);
    LatticeCore::SnapshotCallback on_snapshot;
    if (!on_snapshot_listener.IsEmpty()) on_snapshot = [notices](std::uint64_t step) { notices->snapshot(step); };
    LatticeCore::SnapshotCallback on_cone_probe;
    // The runner never waits on the queue, which is unbounded: it announces a cone probe only when a slot was free.
    if (!on_cone_probe_listener.IsEmpty()) on_cone_probe = [notices](std::uint64_t step) { notices->cone_probe(step); };
    LatticeCore::HostFailureCallback on_host_failure;
    if (info[3].IsFunction()) {
      auto notifier = std::make_shared<HostFailureNotifier>();
      notifier->notify =
          Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "ouroboros-kernel-host", 0, 1);
      // The core keeps the callback past the run's end (until the next run or close): it must not hold the loop open.
      notifier->notify.Unref(env);
      on_host_failure = [notifier](const HostFailure& failure) {
        notifier->notify.BlockingCall(
            [failure](Napi::Env js, Napi::Function callback) { callback.Call({host_failure(js, failure)}); });
      };
    }
    core.set_host_failure_callback(std::move(on_host_failure));
    Napi::Promise ended = notices->promise();
    core.run(
        options,
        [notices](const RunSummary& summary) {
          notices->end([summary](Napi::Env js) { return run_summary(js, summary); });
        },
        std::move(on_snapshot), std::move(on_cone_probe));
    return ended;
  });
}

void LatticeCoreWrap::pause(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).pause(); });
}

void LatticeCoreWrap::resume(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).resume(); });
}

void LatticeCoreWrap::stop(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).stop(); });
}

Napi::Value LatticeCoreWrap::running(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return Napi::Boolean::New(info.Env(), open_core(info.Env()).running()); });
}

Napi::Value LatticeCoreWrap::paused(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return Napi::Boolean::New(info.Env(), open_core(info.Env()).paused()); });
}

// ---------------------------------------------------------------- slots

Napi::Value LatticeCoreWrap::swap(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const Slot slot = read_slot(info[0], "slot");
    std::shared_ptr<const KernelModule> module = read_module(info[1], "moduleId");
    std::shared_ptr<JsCompletion> done = JsCompletion::create(info.Env());
    core.swap(slot, std::move(module), settle_swap(done));
    return done->promise();
  });
}

Napi::Value LatticeCoreWrap::rollback(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const Slot slot = read_slot(info[0], "slot");
    std::shared_ptr<JsCompletion> done = JsCompletion::create(info.Env());
    core.rollback(slot, settle_swap(done));
    return done->promise();
  });
}

Napi::Value LatticeCoreWrap::slots(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    Napi::Object result = Napi::Object::New(env);
    for (Slot slot : {Slot::Step, Slot::Readout}) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("live", module_info(env, *core.live_module(slot)));
      entry.Set("lastKnownGood", module_info(env, *core.last_known_good(slot)));
      result.Set(slot_name(slot), entry);
    }
    return result;
  });
}

void LatticeCoreWrap::wait_for_boundary(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).wait_for_boundary(); });
}

// ---------------------------------------------------------------- watchdog and canary

Napi::Value LatticeCoreWrap::copy_snapshot(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    const std::uint64_t cells = core.geometry().cells;
    // The caller's arrays, reused from check to check: a fresh pair of a large
    // lattice's levels costs more in page faults and collection than the copy.
    double* previous = output_f64_field(info[0], "previous", cells);
    double* current = output_f64_field(info[1], "current", cells);
    const std::optional<SnapshotView> pending = core.pending_snapshot();
    if (!pending) return env.Null();
    widen_into(precision_of(core), pending->previous, previous, cells);
    widen_into(precision_of(core), pending->current, current, cells);
    Napi::Object result = Napi::Object::New(env);
    result.Set("step", number(env, pending->step));
    const std::size_t probed = pending->probe_cells ? pending->probe_cells->size() : 0;
    auto probe_cells = Napi::Float64Array::New(env, probed);
    auto probe_values = Napi::Float64Array::New(env, probed);
    for (std::size_t i = 0; i < probed; ++i) probe_cells[i] = static_cast<double>((*pending->probe_cells)[i]);
    if (probed > 0) widen_into(precision_of(core), pending->probe_values, probe_values.Data(), probed);
    result.Set("probeCells", probe_cells);
    result.Set("probeValues", probe_values);
    result.Set("probeSteps", number(env, pending->probe_steps));
    result.Set("captureNs", number(env, pending->capture_ns));
    result.Set("probeLevel",
               pending->probe_level ? probe_level(env, precision_of(core), pending->probe_level, cells) : env.Null());
    return result;
  });
}

void LatticeCoreWrap::set_probe_whole_level(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    if (!info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "delayed must be a boolean");
    if (!info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "remainder must be a boolean");
    core.set_probe_whole_level(info[0].As<Napi::Boolean>().Value(), info[1].As<Napi::Boolean>().Value());
  });
}

void LatticeCoreWrap::set_probe(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    std::vector<std::uint64_t> probe = read_cells(info[0], core.geometry().cells);
    if (!info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "delayed must be a boolean");
    const std::uint64_t max_cone_values = read_integer(info[2], "maxConeValues", 0);
    if (!info[3].IsBoolean()) throw Napi::TypeError::New(info.Env(), "remainder must be a boolean");
    core.set_probe(std::move(probe), info[1].As<Napi::Boolean>().Value(), max_cone_values,
                   info[3].As<Napi::Boolean>().Value());
  });
}

void LatticeCoreWrap::settle_snapshot(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    const std::uint64_t step = read_integer(info[0], "step", 0);
    if (!info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "verified must be a boolean");
    open_core(info.Env()).settle_snapshot(step, info[1].As<Napi::Boolean>().Value());
  });
}

void LatticeCoreWrap::defer_snapshots(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).defer_snapshots(read_integer(info[0], "firstStep", 0)); });
}

void LatticeCoreWrap::arm_cone_probe(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const std::uint64_t cells = read_integer(info[0], "cells", 1);
    const std::uint64_t seed = read_integer(info[1], "seed", 0);
    if (!info[2].IsBoolean()) throw Napi::TypeError::New(info.Env(), "delayed must be a boolean");
    if (!info[3].IsBoolean()) throw Napi::TypeError::New(info.Env(), "remainder must be a boolean");
    const std::uint64_t at_step = read_integer(info[4], "atStep", 0);
    const std::uint64_t every_steps = read_integer(info[5], "everySteps", 1);
    const std::uint64_t max_cone_values = read_integer(info[6], "maxConeValues", 0);
    if (!info[8].IsBoolean()) throw Napi::TypeError::New(info.Env(), "followDelayed must be a boolean");
    if (!info[9].IsBoolean()) throw Napi::TypeError::New(info.Env(), "followRemainder must be a boolean");
    const ConeFollow follow{info[8].As<Napi::Boolean>().Value(), info[9].As<Napi::Boolean>().Value(),
                            read_integer(info[7], "followOffsetSteps", 0)};
    core.arm_cone_probe(cells, seed, info[2].As<Napi::Boolean>().Value(), info[3].As<Napi::Boolean>().Value(), at_step,
                        every_steps, max_cone_values, follow);
  });
}

void LatticeCoreWrap::set_cone_take_rate(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "cellsPerStep must be a number");
    open_core(info.Env()).set_cone_take_rate(info[0].As<Napi::Number>().DoubleValue());
  });
}

Napi::Value LatticeCoreWrap::take_cone_probe(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    const std::optional<ConeProbeView> probe = core.ready_cone_probe();
    if (!probe) return env.Null();
    const ouro_precision precision = precision_of(core);
    const std::size_t probed = probe->cells->size();
    const std::uint64_t cone = cone_values(core.geometry().dims, probe->radius);
    widen_into(precision, probe->older, output_values(info[0], "older", probed * cone), probed * cone);
    widen_into(precision, probe->newer, output_values(info[1], "newer", probed * cone), probed * cone);
    auto cells = Napi::Float64Array::New(env, probed);
    auto values = Napi::Float64Array::New(env, probed);
    for (std::size_t i = 0; i < probed; ++i) cells[i] = static_cast<double>((*probe->cells)[i]);
    widen_into(precision, probe->values, values.Data(), probed);
    Napi::Object result = Napi::Object::New(env);
    result.Set("step", number(env, probe->step));
    result.Set("steps", number(env, probe->steps));
    result.Set("radius", number(env, probe->radius));
    result.Set("cells", cells);
    result.Set("values", values);
    result.Set("gatherNs", number(env, probe->gather_ns));
    result.Set("extra", Napi::Boolean::New(env, probe->extra));
    return result;
  });
}

void LatticeCoreWrap::settle_cone_probe(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).settle_cone_probe(read_integer(info[0], "step", 0)); });
}

Napi::Value LatticeCoreWrap::watchdog_counters(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    const WatchdogCounters counters = open_core(env).watchdog_counters();
    Napi::Object result = Napi::Object::New(env);
    result.Set("snapshots", number(env, counters.snapshots.captures));
    result.Set("captureNs", number(env, counters.snapshots.capture_ns));
    result.Set("snapshotProbeNs", number(env, counters.snapshots.probe_ns));
    result.Set("coneProbes", number(env, counters.cones.probes));
    result.Set("coneSkips", number(env, counters.cones.skips));
    result.Set("coneGatherNs", number(env, counters.cones.gather_ns));
    result.Set("coneBoundaries", number(env, counters.cones.boundaries));
    result.Set("coneGatheredValues", number(env, counters.cones.gathered_values));
    result.Set("coneExtras", number(env, counters.cones.extras));
    result.Set("coneExtraDrops", number(env, counters.cones.extra_drops));
    result.Set("coneCellsHanded", number(env, counters.cones.cells_handed));
    result.Set("coneExtraDropNs", number(env, counters.cones.extra_drop_ns));
    const std::uint64_t cap = open_core(env).cone_batch_cap();
    result.Set("coneBatchCap", cap == std::numeric_limits<std::uint64_t>::max() ? env.Null() : number(env, cap));
    return result;
  });
}

Napi::Value LatticeCoreWrap::recover(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    return recovery_outcome(env, open_core(env).recover(read_slot(info[0], "slot")));
  });
}

Napi::Value LatticeCoreWrap::canary(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    open_core(env);
    const Slot slot = read_slot(info[0], "slot");
    std::shared_ptr<const KernelModule> candidate = read_module(info[1], "moduleId");
    const std::uint64_t steps = read_integer(info[2], "steps", 0);
    CanaryInput input = core_->prepare_canary(slot, std::move(candidate));
    auto* worker = new CanaryWorker(env, core_, std::move(input), steps);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

void LatticeCoreWrap::cancel_canaries(const Napi::CallbackInfo& info) {
  // close() cancelled those of a closed lattice already.
  at_boundary(info.Env(), [&] {
    if (core_) core_->cancel_canaries();
  });
}

Napi::Value LatticeCoreWrap::open_kernel_host_workspace(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(),
                     [&] { return Napi::Number::New(info.Env(), open_core(info.Env()).open_host_workspace()); });
}

Napi::Value LatticeCoreWrap::connect_kernel_host(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    const auto channel_fd = static_cast<int>(read_integer(info[0], "channelFd", 0, INT32_MAX));
    const auto workspace_fd = static_cast<int>(read_integer(info[1], "workspaceFd", 0, INT32_MAX));
    const auto pid = static_cast<pid_t>(read_integer(info[2], "pid", 1, INT32_MAX));
    if (!info[3].IsString()) throw Napi::TypeError::New(env, "path must be a string");
    const std::uint64_t ready_timeout_ms = read_integer(info[4], "readyTimeoutMs", 1);
    const std::uint64_t step_timeout_ms = read_integer(info[5], "stepTimeoutMs", 1);
    return load_outcome(env, core.connect_remote(channel_fd, workspace_fd, pid, info[3].As<Napi::String>().Utf8Value(),
                                                 ready_timeout_ms, step_timeout_ms));
  });
}

}  // namespace ouro::addon
