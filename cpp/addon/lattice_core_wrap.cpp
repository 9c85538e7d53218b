#include "lattice_core_wrap.h"

#include "boundary.h"
#include "core/module_registry.h"
#include "core/remote_kernel.h"
#include "core_values.h"
#include "js_completion.h"
#include "js_convert.h"
#include "promise_worker.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ouro::addon {

Napi::Function LatticeCoreWrap::define_class(Napi::Env env) {
  Properties properties;
  for (const Properties& part : {state_properties(), run_properties(), profile_properties(), watchdog_properties()}) {
    properties.insert(properties.end(), part.begin(), part.end());
  }
  return DefineClass(env, "LatticeCore", properties);
}

LatticeCoreWrap::Properties LatticeCoreWrap::state_properties() {
  return {
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
      InstanceMethod<&LatticeCoreWrap::levels_async>("levelsAsync"),
      InstanceMethod<&LatticeCoreWrap::widened_levels_async>("widenedLevelsAsync"),
      InstanceMethod<&LatticeCoreWrap::readout>("readout"),
      InstanceMethod<&LatticeCoreWrap::memory_triad>("memoryTriad"),
      InstanceMethod<&LatticeCoreWrap::memory_triad_async>("memoryTriadAsync"),
      InstanceMethod<&LatticeCoreWrap::step_copy>("stepCopy"),
      InstanceMethod<&LatticeCoreWrap::step_copy_async>("stepCopyAsync"),
      InstanceMethod<&LatticeCoreWrap::readout_async>("readoutAsync"),
      InstanceMethod<&LatticeCoreWrap::resume_batch_steps>("resumeBatchSteps"),
      InstanceMethod<&LatticeCoreWrap::close>("close"),
  };
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

Napi::Value LatticeCoreWrap::levels_async(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    open_core(info.Env());
    std::shared_ptr<JsCompletion> completion = JsCompletion::create(info.Env());
    // As widened_levels_async, in the lattice's own precision: the arrays own the copies the runner made.
    auto copy = [core = core_, completion] {
      try {
        const ouro_precision precision = precision_of(*core);
        const std::uint64_t cells = core->geometry().cells;
        const auto* previous = static_cast<const std::byte*>(core->previous_level());
        const auto* current = static_cast<const std::byte*>(core->current_level());
        auto levels = std::make_shared<std::pair<std::vector<std::byte>, std::vector<std::byte>>>(
            std::vector<std::byte>(previous, previous + core->level_bytes()),
            std::vector<std::byte>(current, current + core->level_bytes()));
        completion->resolve([levels, precision, cells](Napi::Env env) {
          return field_pair(env, adopted_field(env, precision, std::move(levels->first), cells),
                            adopted_field(env, precision, std::move(levels->second), cells));
        });
      } catch (const std::exception& error) {
        completion->reject(std::string("copying the levels failed: ") + error.what());
      }
    };
    if (!core_->post_at_boundary(copy)) copy();
    return completion->promise();
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
    return stream_triad_result(info.Env(), open_core(info.Env()).memory_triad(repetitions));
  });
}

Napi::Value LatticeCoreWrap::memory_triad_async(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    const auto repetitions = static_cast<std::uint32_t>(read_integer(info[0], "repetitions", 1, UINT32_MAX));
    LatticeCore& core = open_core(info.Env());
    std::shared_ptr<JsCompletion> completion = JsCompletion::create(info.Env());
    // Settled from the runner thread, which measured (LatticeCore::memory_triad_async); the JS thread waits for none.
    core.memory_triad_async(repetitions, [completion](const StreamTriadResult* triad, const std::string& error) {
      if (triad == nullptr) {
        completion->reject("the memory triad failed: " + error);
        return;
      }
      completion->resolve([measured = *triad](Napi::Env env) { return stream_triad_result(env, measured); });
    });
    return completion->promise();
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
    return PromiseWorker::start(
        env, "ouroboros-step-copy",
        [core = core_, module, previous, current, steps, stepped] {
          stepped->emplace(core->step_copy_with(*module, previous->data(), current->data(), steps));
        },
        [precision, cells, stepped](Napi::Env js) -> Napi::Value {
          const LevelPair& levels = **stepped;
          return field_pair(js, copy_field(js, precision, levels.previous_level(), cells),
                            copy_field(js, precision, levels.current_level(), cells));
        });
  });
}

Napi::Value LatticeCoreWrap::readout_async(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    Napi::Env env = info.Env();
    LatticeCore& core = open_core(env);
    std::shared_ptr<const KernelModule> module = read_module(info[0], "moduleId");
    auto field = owned_field(info[1], "field", core);
    auto read = std::make_shared<Readout>();
    return PromiseWorker::start(
        env, "ouroboros-readout",
        [core = core_, module, field, read] { *read = core->readout_with(*module, field->data()); },
        [read](Napi::Env js) -> Napi::Value { return readout_result(js, *read); });
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

LatticeCore& LatticeCoreWrap::open_core(Napi::Env env) {
  if (!core_) throw Napi::Error::New(env, "this LatticeCore is closed: create a new one to go on");
  return *core_;
}

}  // namespace ouro::addon
