// The LatticeCore wrapper's run control: the runner, the slots' swaps and
// rollbacks, the watchdog's snapshots and probes, the canary and the kernel
// hosts. The rest of the class is in lattice_core_wrap.cpp.
#include "boundary.h"
#include "core_values.h"
#include "js_completion.h"
#include "js_convert.h"
#include "lattice_core_wrap.h"

#include <cmath>
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

/// Calls a JS function with the step of each watchdog snapshot, from the runner thread.
struct SnapshotNotifier {
  Napi::ThreadSafeFunction notify;
  ~SnapshotNotifier() { notify.Release(); }
};

}  // namespace

// ---------------------------------------------------------------- the runner

Napi::Value LatticeCoreWrap::run(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    RunOptions options;
    options.max_steps = read_integer(info[0], "maxSteps", 0);
    options.snapshot_every = read_integer(info[1], "snapshotEvery", 0);
    LatticeCore::SnapshotCallback on_snapshot;
    if (options.snapshot_every > 0) {
      if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "onSnapshot must be a function");
      // Built in place: a moved-from temporary's destructor would release the function.
      auto notifier = std::make_shared<SnapshotNotifier>();
      notifier->notify = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "ouroboros-watchdog", 0, 1);
      on_snapshot = [notifier](std::uint64_t step) {
        notifier->notify.BlockingCall([step](Napi::Env js, Napi::Function callback) {
          callback.Call({Napi::Number::New(js, static_cast<double>(step))});
        });
      };
    }
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
    std::shared_ptr<JsCompletion> ended = JsCompletion::create(env);
    core.run(
        options,
        [ended](const RunSummary& summary) {
          ended->resolve([summary](Napi::Env js) { return run_summary(js, summary); });
        },
        std::move(on_snapshot));
    return ended->promise();
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
    const std::uint64_t cells = core.geometry().cells;
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      throw Napi::TypeError::New(info.Env(), "cells must be a Float64Array of cell indices");
    }
    const auto array = info[0].As<Napi::Float64Array>();
    std::vector<std::uint64_t> probe(array.ElementLength());
    for (std::size_t i = 0; i < probe.size(); ++i) {
      const double cell = array[i];
      if (!(cell >= 0 && cell < static_cast<double>(cells) && std::floor(cell) == cell)) {
        throw Napi::TypeError::New(info.Env(), "cells[" + std::to_string(i) + "] = " + std::to_string(cell) +
                                                   ": must be an integer in [0, " + std::to_string(cells) + ")");
      }
      probe[i] = static_cast<std::uint64_t>(cell);
    }
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
