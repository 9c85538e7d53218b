#include "lattice_core_wrap.h"

#include "boundary.h"
#include "core/module_registry.h"
#include "core/remote_kernel.h"
#include "js_completion.h"
#include "js_convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ouro::addon {
namespace {

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

Napi::Object run_summary(Napi::Env env, const RunSummary& summary) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("startStep", number(env, summary.start_step));
  result.Set("endStep", number(env, summary.end_step));
  result.Set("stepsRun", number(env, summary.steps_run));
  result.Set("runNs", number(env, summary.run_ns));
  result.Set("error", summary.error.empty() ? env.Null() : Napi::String::New(env, summary.error));
  return result;
}

Napi::Object profile_summary(Napi::Env env, const SlotProfile::Summary& summary) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("calls", number(env, summary.calls));
  result.Set("steps", number(env, summary.steps));
  result.Set("totalNs", number(env, summary.total_ns));
  result.Set("maxNs", number(env, summary.max_ns));
  result.Set("p50Ns", number(env, summary.p50_ns));
  result.Set("p99Ns", number(env, summary.p99_ns));
  return result;
}

Napi::Object profile_counters_object(Napi::Env env, const SlotProfile::Counters& counters) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("calls", number(env, counters.calls));
  result.Set("steps", number(env, counters.steps));
  result.Set("totalNs", number(env, counters.total_ns));
  result.Set("maxNs", number(env, counters.max_ns));
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
  counters.calls = read_integer(object.Get("calls"), "counters.calls", 0);
  counters.steps = read_integer(object.Get("steps"), "counters.steps", 0);
  counters.total_ns = read_integer(object.Get("totalNs"), "counters.totalNs", 0);
  counters.max_ns = read_integer(object.Get("maxNs"), "counters.maxNs", 0);
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

// The completion of a swap or rollback, as a callback the core may call from any thread.
LatticeCore::SwapCallback settle_swap(const std::shared_ptr<JsCompletion>& completion) {
  return [completion](const SwapOutcome& outcome) {
    completion->resolve([outcome](Napi::Env env) { return swap_outcome(env, outcome); });
  };
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

/**
 * One call of a module on copies, off the JS thread: a confined module's
 * self-test steps and reads out the whole live-sized lattice through its
 * host, seconds at 4096^2, which the event loop must not wait for. `work`
 * runs on a worker thread and touches no Napi value; `result` builds the
 * JS value on the JS thread.
 */
class ModuleCallWorker : public Napi::AsyncWorker {
 public:
  ModuleCallWorker(Napi::Env env, const char* name, std::function<void()> work,
                   std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        result_(std::move(result)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& error) {
      SetError(error.what());
    } catch (...) {
      SetError("unknown native exception in a module call");
    }
  }

  void OnOK() override { deferred_.Resolve(result_(Env())); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
};

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

/// Calls a JS function with each kernel host failure, from the runner thread.
struct HostFailureNotifier {
  Napi::ThreadSafeFunction notify;
  ~HostFailureNotifier() { notify.Release(); }
};

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

/// Calls a JS function with the step of each watchdog snapshot, from the runner thread.
struct SnapshotNotifier {
  Napi::ThreadSafeFunction notify;
  ~SnapshotNotifier() { notify.Release(); }
};

}  // namespace

Napi::Function LatticeCoreWrap::define_class(Napi::Env env) {
  return DefineClass(env, "LatticeCore",
                     {
                         InstanceMethod<&LatticeCoreWrap::set_state>("setState"),
                         InstanceMethod<&LatticeCoreWrap::step>("step"),
                         InstanceMethod<&LatticeCoreWrap::direct_steps>("directSteps"),
                         InstanceAccessor<&LatticeCoreWrap::step_count>("stepCount"),
                         InstanceAccessor<&LatticeCoreWrap::batch_steps>("batchSteps"),
                         InstanceAccessor<&LatticeCoreWrap::kernel_name>("kernelName"),
                         InstanceMethod<&LatticeCoreWrap::field>("field"),
                         InstanceMethod<&LatticeCoreWrap::previous_field>("previousField"),
                         InstanceMethod<&LatticeCoreWrap::levels>("levels"),
                         InstanceMethod<&LatticeCoreWrap::views>("views"),
                         InstanceMethod<&LatticeCoreWrap::widened_levels_async>("widenedLevelsAsync"),
                         InstanceMethod<&LatticeCoreWrap::readout>("readout"),
                         InstanceMethod<&LatticeCoreWrap::memory_triad>("memoryTriad"),
                         InstanceMethod<&LatticeCoreWrap::step_copy>("stepCopy"),
                         InstanceMethod<&LatticeCoreWrap::step_copy_async>("stepCopyAsync"),
                         InstanceMethod<&LatticeCoreWrap::readout_async>("readoutAsync"),
                         InstanceMethod<&LatticeCoreWrap::resume_batch_steps>("resumeBatchSteps"),
                         InstanceMethod<&LatticeCoreWrap::close>("close"),
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
                         InstanceMethod<&LatticeCoreWrap::profile>("profile"),
                         InstanceMethod<&LatticeCoreWrap::reset_profile>("resetProfile"),
                         InstanceMethod<&LatticeCoreWrap::fp_restores>("fpRestores"),
                         InstanceMethod<&LatticeCoreWrap::set_fp_restore>("setFpRestore"),
                         InstanceMethod<&LatticeCoreWrap::profile_counters>("profileCounters"),
                         InstanceMethod<&LatticeCoreWrap::add_profile_counters>("addProfileCounters"),
                         InstanceMethod<&LatticeCoreWrap::trace_steps>("traceSteps"),
                         InstanceMethod<&LatticeCoreWrap::take_trace>("takeTrace"),
                         InstanceMethod<&LatticeCoreWrap::copy_snapshot>("copySnapshot"),
                         InstanceMethod<&LatticeCoreWrap::settle_snapshot>("settleSnapshot"),
                         InstanceMethod<&LatticeCoreWrap::set_probe>("setProbe"),
                         InstanceMethod<&LatticeCoreWrap::set_probe_whole_level>("setProbeWholeLevel"),
                         InstanceMethod<&LatticeCoreWrap::defer_snapshots>("deferSnapshots"),
                         InstanceMethod<&LatticeCoreWrap::recover>("recover"),
                         InstanceMethod<&LatticeCoreWrap::canary>("canary"),
                         InstanceMethod<&LatticeCoreWrap::cancel_canaries>("cancelCanaries"),
                         InstanceMethod<&LatticeCoreWrap::open_kernel_host_workspace>("openKernelHostWorkspace"),
                         InstanceMethod<&LatticeCoreWrap::connect_kernel_host>("connectKernelHost"),
                     });
}

LatticeCoreWrap::LatticeCoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LatticeCoreWrap>(info) {
  at_boundary(info.Env(), [&] {
    const CoreConfig config = read_core_config(info[0]);
    KernelModule::LoadResult loaded = ModuleRegistry::instance().load(config.kernel_path);
    if (!loaded.module) throw Napi::Error::New(info.Env(), loaded.error());
    core_ = config.segment ? std::make_shared<LatticeCore>(config.lattice, std::move(loaded.module), *config.segment)
                           : std::make_shared<LatticeCore>(config.lattice, std::move(loaded.module));
  });
}

void LatticeCoreWrap::set_state(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const std::uint64_t cells = core.geometry().cells;
    const void* previous = read_field(info[0], "previous", precision_of(core), cells);
    const void* current = read_field(info[1], "current", precision_of(core), cells);
    core.set_state(previous, current);
  });
}

Napi::Value LatticeCoreWrap::step(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(),
                     [&] { return number(info.Env(), open_core(info.Env()).step(read_integer(info[0], "n", 0))); });
}

Napi::Value LatticeCoreWrap::direct_steps(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    return number(info.Env(), open_core(info.Env()).direct_steps(read_integer(info[0], "n", 0)));
  });
}

Napi::Value LatticeCoreWrap::step_count(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return number(info.Env(), open_core(info.Env()).step_count()); });
}

Napi::Value LatticeCoreWrap::batch_steps(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return number(info.Env(), open_core(info.Env()).batch_steps()); });
}

Napi::Value LatticeCoreWrap::kernel_name(const Napi::CallbackInfo& info) {
  return at_boundary(
      info.Env(), [&] { return Napi::String::New(info.Env(), open_core(info.Env()).live_module(Slot::Step)->name()); });
}

Napi::Value LatticeCoreWrap::copy_live_level(Napi::Env env, bool current) {
  LatticeCore& core = open_core(env);
  auto [array, data] = new_field(env, precision_of(core), core.geometry().cells);
  // The JS thread waits in at_boundary while the runner copies into the
  // array's memory; no Napi value is touched off this thread.
  core.at_boundary([&, data = data] {
    std::memcpy(data, current ? core.current_level() : core.previous_level(), core.level_bytes());
  });
  return array;
}

Napi::Value LatticeCoreWrap::field(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return copy_live_level(info.Env(), true); });
}

Napi::Value LatticeCoreWrap::previous_field(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return copy_live_level(info.Env(), false); });
}

Napi::Value LatticeCoreWrap::levels(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    auto [previous, previous_data] = new_field(info.Env(), precision_of(core), core.geometry().cells);
    auto [current, current_data] = new_field(info.Env(), precision_of(core), core.geometry().cells);
    core.at_boundary([&, previous_data = previous_data, current_data = current_data] {
      std::memcpy(previous_data, core.previous_level(), core.level_bytes());
      std::memcpy(current_data, core.current_level(), core.level_bytes());
    });
    return field_pair(info.Env(), previous, current);
  });
}

Napi::Value LatticeCoreWrap::widened_levels_async(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    open_core(info.Env());
    std::shared_ptr<JsCompletion> completion = JsCompletion::create(info.Env());
    // On the runner thread at its next boundary (the JS thread waits for none), or here when no run is active.
    auto copy = [core = core_, completion] {
      try {
        const std::uint64_t cells = core->geometry().cells;
        auto previous = std::make_shared<std::unique_ptr<double[]>>(std::make_unique_for_overwrite<double[]>(cells));
        auto current = std::make_shared<std::unique_ptr<double[]>>(std::make_unique_for_overwrite<double[]>(cells));
        widen_into(precision_of(*core), core->previous_level(), previous->get(), cells);
        widen_into(precision_of(*core), core->current_level(), current->get(), cells);
        completion->resolve([previous, current, cells](Napi::Env env) {
          return field_pair(env, owned_f64_field(env, std::move(*previous), cells),
                            owned_f64_field(env, std::move(*current), cells));
        });
      } catch (const std::exception& error) {
        completion->reject(std::string("copying the levels failed: ") + error.what());
      }
    };
    if (!core_->post_at_boundary(copy)) copy();
    return completion->promise();
  });
}

Napi::Value LatticeCoreWrap::views(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    if (core.running()) {
      throw Napi::Error::New(info.Env(),
                             "views() of the live state are not available while the lattice runs: "
                             "use levels() for copies, or pause with stop() first");
    }
    const std::shared_ptr<StateBuffer> state = core.shared_state();
    const std::uint32_t current = core.current_index();
    const std::uint64_t cells = core.geometry().cells;
    return field_pair(info.Env(), view_field(info.Env(), precision_of(core), state, state->level(1 - current), cells),
                      view_field(info.Env(), precision_of(core), state, state->level(current), cells));
  });
}

Napi::Value LatticeCoreWrap::memory_triad(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    const auto repetitions = static_cast<std::uint32_t>(read_integer(info[0], "repetitions", 1, UINT32_MAX));
    const StreamTriadResult triad = open_core(info.Env()).memory_triad(repetitions);
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("gbPerSecond", triad.gb_per_second);
    result.Set("bytesPerArray", static_cast<double>(triad.bytes_per_array));
    result.Set("threads", triad.threads);
    return result;
  });
}

Napi::Value LatticeCoreWrap::readout(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const Readout read =
        info[0].IsUndefined()
            ? core.readout()
            : core.readout_with(*read_module(info[0], "moduleId"),
                                read_field(info[1], "field", precision_of(core), core.geometry().cells));
    return readout_result(info.Env(), read);
  });
}

Napi::Value LatticeCoreWrap::step_copy(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const std::uint64_t cells = core.geometry().cells;
    const void* previous = read_field(info[0], "previous", precision_of(core), cells);
    const void* current = read_field(info[1], "current", precision_of(core), cells);
    const std::uint64_t steps = read_integer(info[2], "n", 0);
    const LevelPair stepped = info[3].IsUndefined()
                                  ? core.step_copy(previous, current, steps)
                                  : core.step_copy_with(*read_module(info[3], "moduleId"), previous, current, steps);
    return field_pair(info.Env(), copy_field(info.Env(), precision_of(core), stepped.previous_level(), cells),
                      copy_field(info.Env(), precision_of(core), stepped.current_level(), cells));
  });
}

Napi::Value LatticeCoreWrap::step_copy_async(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    auto previous = owned_field(info[0], "previous", core);
    auto current = owned_field(info[1], "current", core);
    const std::uint64_t steps = read_integer(info[2], "n", 0);
    std::shared_ptr<const KernelModule> module = read_module(info[3], "moduleId");
    const ouro_precision precision = precision_of(core);
    const std::uint64_t cells = core.geometry().cells;
    auto stepped = std::make_shared<std::optional<LevelPair>>();
    auto* worker = new ModuleCallWorker(
        env, "ouroboros-step-copy",
        [core = core_, module, previous, current, steps, stepped] {
          stepped->emplace(core->step_copy_with(*module, previous->data(), current->data(), steps));
        },
        [precision, cells, stepped](Napi::Env js) -> Napi::Value {
          const LevelPair& levels = **stepped;
          return field_pair(js, copy_field(js, precision, levels.previous_level(), cells),
                            copy_field(js, precision, levels.current_level(), cells));
        });
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value LatticeCoreWrap::readout_async(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    std::shared_ptr<const KernelModule> module = read_module(info[0], "moduleId");
    auto field = owned_field(info[1], "field", core);
    auto read = std::make_shared<Readout>();
    auto* worker = new ModuleCallWorker(
        env, "ouroboros-readout",
        [core = core_, module, field, read] { *read = core->readout_with(*module, field->data()); },
        [read](Napi::Env js) -> Napi::Value { return readout_result(js, *read); });
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

void LatticeCoreWrap::resume_batch_steps(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { open_core(info.Env()).resume_batch_steps(read_integer(info[0], "steps", 1)); });
}

void LatticeCoreWrap::close(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] {
    if (core_) {
      core_->stop();
      // A canary's worker holds the core until it ends: nothing is left to want its result.
      core_->cancel_canaries();
    }
    core_.reset();
  });
}

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

Napi::Value LatticeCoreWrap::profile(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    Napi::Object result = Napi::Object::New(info.Env());
    for (Slot slot : {Slot::Step, Slot::Readout})
      result.Set(slot_name(slot), profile_summary(info.Env(), core.profile(slot)));
    return result;
  });
}

Napi::Value LatticeCoreWrap::fp_restores(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    Napi::Object result = Napi::Object::New(info.Env());
    for (Slot slot : {Slot::Step, Slot::Readout})
      result.Set(slot_name(slot), number(info.Env(), core.fp_restores(slot)));
    return result;
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
    Napi::Object result = Napi::Object::New(info.Env());
    for (Slot slot : {Slot::Step, Slot::Readout})
      result.Set(slot_name(slot), profile_counters_object(info.Env(), core.profile_counters(slot)));
    return result;
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
    for (std::size_t i = 0; i < records.size(); ++i) {
      step[i] = static_cast<double>(records[i].step);
      steps[i] = static_cast<double>(records[i].steps);
      module_id[i] = records[i].module_id;
      start_ns[i] = static_cast<double>(records[i].start_ns);
      end_ns[i] = static_cast<double>(records[i].end_ns);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("step", step);
    result.Set("steps", steps);
    result.Set("moduleId", module_id);
    result.Set("startNs", start_ns);
    result.Set("endNs", end_ns);
    return result;
  });
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

LatticeCore& LatticeCoreWrap::open_core(Napi::Env env) {
  if (!core_) throw Napi::Error::New(env, "this LatticeCore is closed: create a new one to go on");
  return *core_;
}

}  // namespace ouro::addon
