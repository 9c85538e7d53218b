#include "lattice_core_wrap.h"

#include "boundary.h"
#include "js_convert.h"

namespace ouro::addon {
namespace {

ouro_precision precision_of(const LatticeCore& core) {
  return static_cast<ouro_precision>(core.geometry().precision);
}

Napi::Object field_pair(Napi::Env env, Napi::Value previous, Napi::Value current) {
  Napi::Object pair = Napi::Object::New(env);
  pair.Set("previous", previous);
  pair.Set("current", current);
  return pair;
}

}  // namespace

Napi::Function LatticeCoreWrap::define_class(Napi::Env env) {
  return DefineClass(env, "LatticeCore",
                     {
                         InstanceMethod<&LatticeCoreWrap::set_state>("setState"),
                         InstanceMethod<&LatticeCoreWrap::step>("step"),
                         InstanceAccessor<&LatticeCoreWrap::step_count>("stepCount"),
                         InstanceAccessor<&LatticeCoreWrap::kernel_name>("kernelName"),
                         InstanceMethod<&LatticeCoreWrap::field>("field"),
                         InstanceMethod<&LatticeCoreWrap::previous_field>("previousField"),
                         InstanceMethod<&LatticeCoreWrap::views>("views"),
                         InstanceMethod<&LatticeCoreWrap::readout>("readout"),
                         InstanceMethod<&LatticeCoreWrap::step_copy>("stepCopy"),
                         InstanceMethod<&LatticeCoreWrap::close>("close"),
                     });
}

LatticeCoreWrap::LatticeCoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LatticeCoreWrap>(info) {
  at_boundary(info.Env(), [&] {
    const CoreConfig config = read_core_config(info[0]);
    KernelModule::LoadResult loaded = KernelModule::load(config.kernel_path);
    if (!loaded.module) throw Napi::Error::New(info.Env(), loaded.error);
    core_ = std::make_unique<LatticeCore>(config.lattice, std::move(loaded.module));
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
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const std::uint64_t elapsed_ns = core.step(read_integer(info[0], "n", 0));
    return Napi::Number::New(info.Env(), static_cast<double>(elapsed_ns));
  });
}

Napi::Value LatticeCoreWrap::step_count(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    return Napi::Number::New(info.Env(), static_cast<double>(open_core(info.Env()).step_count()));
  });
}

Napi::Value LatticeCoreWrap::kernel_name(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return Napi::String::New(info.Env(), open_core(info.Env()).kernel().name()); });
}

Napi::Value LatticeCoreWrap::field(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    return copy_field(info.Env(), precision_of(core), core.current_level(), core.geometry().cells);
  });
}

Napi::Value LatticeCoreWrap::previous_field(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    return copy_field(info.Env(), precision_of(core), core.previous_level(), core.geometry().cells);
  });
}

Napi::Value LatticeCoreWrap::views(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const std::shared_ptr<StateBuffer> state = core.shared_state();
    const std::uint32_t current = core.current_index();
    const std::uint64_t cells = core.geometry().cells;
    return field_pair(info.Env(),
                      view_field(info.Env(), precision_of(core), state, state->level(1 - current), cells),
                      view_field(info.Env(), precision_of(core), state, state->level(current), cells));
  });
}

Napi::Value LatticeCoreWrap::readout(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    const Readout read = open_core(info.Env()).readout();
    Napi::Object result = Napi::Object::New(info.Env());
    if (read.bad_index) {
      result.Set("digits", info.Env().Null());
      result.Set("badIndex", Napi::Number::New(info.Env(), static_cast<double>(*read.bad_index)));
      return result;
    }
    Napi::Int8Array digits = Napi::Int8Array::New(info.Env(), read.digits.size());
    std::copy(read.digits.begin(), read.digits.end(), digits.Data());
    result.Set("digits", digits);
    result.Set("badIndex", info.Env().Null());
    return result;
  });
}

Napi::Value LatticeCoreWrap::step_copy(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    LatticeCore& core = open_core(info.Env());
    const std::uint64_t cells = core.geometry().cells;
    const void* previous = read_field(info[0], "previous", precision_of(core), cells);
    const void* current = read_field(info[1], "current", precision_of(core), cells);
    const LevelPair stepped = core.step_copy(previous, current, read_integer(info[2], "n", 0));
    return field_pair(info.Env(), copy_field(info.Env(), precision_of(core), stepped.previous_level(), cells),
                      copy_field(info.Env(), precision_of(core), stepped.current_level(), cells));
  });
}

void LatticeCoreWrap::close(const Napi::CallbackInfo& info) {
  at_boundary(info.Env(), [&] { core_.reset(); });
}

LatticeCore& LatticeCoreWrap::open_core(Napi::Env env) {
  if (!core_) throw Napi::Error::New(env, "this LatticeCore is closed: create a new one to go on");
  return *core_;
}

}  // namespace ouro::addon
