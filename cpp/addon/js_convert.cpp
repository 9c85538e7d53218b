#include "js_convert.h"

#include "core/module_registry.h"
#include "core/remote_kernel.h"

#include <cmath>
#include <cstring>

namespace ouro::addon {
namespace {

[[noreturn]] void type_error(Napi::Env env, const std::string& name, const std::string& expected) {
  throw Napi::TypeError::New(env, name + " must be " + expected);
}

std::string read_string(const Napi::Value& value, const std::string& name) {
  if (!value.IsString()) type_error(value.Env(), name, "a string");
  return value.As<Napi::String>().Utf8Value();
}

ouro_precision read_precision(const Napi::Value& value) {
  const std::string text = read_string(value, "config.precision");
  if (text == "f64") return OURO_PRECISION_F64;
  if (text == "f32") return OURO_PRECISION_F32;
  type_error(value.Env(), "config.precision", "'f64' or 'f32', got '" + text + "'");
}

std::vector<std::uint64_t> read_extents(const Napi::Value& value) {
  if (!value.IsArray()) type_error(value.Env(), "config.extents", "an array of integers");
  const auto array = value.As<Napi::Array>();
  std::vector<std::uint64_t> extents;
  for (std::uint32_t axis = 0; axis < array.Length(); ++axis) {
    const std::string name = "config.extents[" + std::to_string(axis) + "]";
    extents.push_back(read_integer(array.Get(axis), name.c_str(), 0));
  }
  return extents;
}

napi_typedarray_type array_type(ouro_precision precision) {
  return precision == OURO_PRECISION_F64 ? napi_float64_array : napi_float32_array;
}

const char* array_name(ouro_precision precision) {
  return precision == OURO_PRECISION_F64 ? "a Float64Array" : "a Float32Array";
}

std::size_t value_bytes(ouro_precision precision) {
  return precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
}

Napi::TypedArray typed_array(Napi::Env env, ouro_precision precision, std::uint64_t cells,
                             const Napi::ArrayBuffer& buffer) {
  if (precision == OURO_PRECISION_F64) return Napi::Float64Array::New(env, cells, buffer, 0);
  return Napi::Float32Array::New(env, cells, buffer, 0);
}

SegmentRegion read_segment(const Napi::Value& value) {
  if (!value.IsObject()) type_error(value.Env(), "config.segment", "an object");
  const auto object = value.As<Napi::Object>();
  auto field = [&](const char* key) {
    const std::string name = std::string("config.segment.") + key;
    return static_cast<std::size_t>(read_integer(object.Get(key), name.c_str(), 0));
  };
  const Napi::Value mapping = object.Get("mapping");
  if (!mapping.IsExternal())
    type_error(value.Env(), "config.segment.mapping", "the segment binding's mapping external");
  const auto external = mapping.As<Napi::External<std::byte>>();
  SegmentRegion region;
  // The external's data is the first byte of the segment binding's mapping, segmentBytes long
  // (TypeScript takes both from the same segment), and the external holds that mapping; the
  // state holds the external. Every StateBuffer is released on the JS thread (the wrap, its
  // views' finalisers and the canary workers all drop theirs there), where deleting a reference is allowed.
  region.base = external.Data();
  region.owner = std::make_shared<Napi::Reference<Napi::External<std::byte>>>(Napi::Persistent(external));
  region.segment_bytes = field("segmentBytes");
  region.level_bytes = field("levelBytes");
  region.level0_offset = field("level0Offset");
  region.level1_offset = field("level1Offset");
  region.scratch_offset = field("scratchOffset");
  return region;
}

}  // namespace

CoreConfig read_core_config(const Napi::Value& value) {
  if (!value.IsObject()) type_error(value.Env(), "config", "an object");
  const auto object = value.As<Napi::Object>();
  CoreConfig config;
  config.lattice.extents = read_extents(object.Get("extents"));
  const Napi::Value courant2 = object.Get("courant2");
  if (!courant2.IsNumber()) type_error(value.Env(), "config.courant2", "a number");
  config.lattice.courant2 = courant2.As<Napi::Number>().DoubleValue();
  config.lattice.precision = read_precision(object.Get("precision"));
  config.lattice.threads =
      static_cast<std::uint32_t>(read_integer(object.Get("threads"), "config.threads", 1, kMaxThreads));
  config.kernel_path = read_string(object.Get("kernelPath"), "config.kernelPath");
  // Optional: a core made without them (tests, benches) takes BatchOptions' defaults.
  const Napi::Value latency_ns = object.Get("batchLatencyNs");
  if (!latency_ns.IsUndefined()) config.lattice.batch.latency_ns = read_integer(latency_ns, "config.batchLatencyNs", 1);
  const Napi::Value max_steps = object.Get("maxBatchSteps");
  if (!max_steps.IsUndefined())
    config.lattice.batch.max_steps = read_integer(max_steps, "config.maxBatchSteps", 1, 1u << 20);
  const Napi::Value segment = object.Get("segment");
  if (!segment.IsUndefined() && !segment.IsNull()) config.segment = read_segment(segment);
  return config;
}

std::uint64_t read_integer(const Napi::Value& value, const char* name, std::uint64_t min, std::uint64_t max) {
  const std::string expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!value.IsNumber()) type_error(value.Env(), name, expected);
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= static_cast<double>(min) && number <= static_cast<double>(max) && std::floor(number) == number)) {
    type_error(value.Env(), name, expected + ", got " + value.ToString().Utf8Value());
  }
  return static_cast<std::uint64_t>(number);
}

const void* read_field(const Napi::Value& value, const char* name, ouro_precision precision, std::uint64_t cells) {
  const std::string expected = std::string(array_name(precision)) + " of " + std::to_string(cells) + " elements";
  if (!value.IsTypedArray()) type_error(value.Env(), name, expected);
  const auto array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != array_type(precision) || array.ElementLength() != cells) {
    type_error(value.Env(), name, expected);
  }
  return static_cast<const std::byte*>(array.ArrayBuffer().Data()) + array.ByteOffset();
}

double* output_f64_field(const Napi::Value& value, const char* name, std::uint64_t cells) {
  return static_cast<double*>(const_cast<void*>(read_field(value, name, OURO_PRECISION_F64, cells)));
}

Slot read_slot(const Napi::Value& value, const char* name) {
  const std::optional<Slot> slot = slot_from_name(read_string(value, name));
  if (!slot) type_error(value.Env(), name, "\"step\" or \"readout\"");
  return *slot;
}

std::shared_ptr<const KernelModule> read_module(const Napi::Value& value, const char* name) {
  const auto id = static_cast<std::uint32_t>(read_integer(value, name, 1, UINT32_MAX));
  std::shared_ptr<const KernelModule> module = ModuleRegistry::instance().find(id);
  if (!module) type_error(value.Env(), name, "the id of a loaded kernel module, got " + std::to_string(id));
  return module;
}

Napi::Object module_info(Napi::Env env, const KernelModule& module) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("id", module.id());
  info.Set("name", module.name());
  info.Set("path", module.path());
  // Present only for a module that steps in a kernel host: the process the core sends its steps to.
  if (const RemoteKernel* remote = module.remote()) info.Set("hostPid", static_cast<double>(remote->pid()));
  return info;
}

Napi::Object load_outcome(Napi::Env env, const KernelModule::LoadResult& loaded) {
  if (loaded.module) return module_info(env, *loaded.module);
  Napi::Object refused = Napi::Object::New(env);
  refused.Set("path", loaded.path);
  refused.Set("reason", loaded.reason);
  Napi::Object outcome = Napi::Object::New(env);
  outcome.Set("refused", refused);
  return outcome;
}

Napi::Object stream_triad_result(Napi::Env env, const StreamTriadResult& triad) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("gbPerSecond", triad.gb_per_second);
  result.Set("bytesPerArray", static_cast<double>(triad.bytes_per_array));
  result.Set("threads", triad.threads);
  return result;
}

std::pair<Napi::Value, void*> new_field(Napi::Env env, ouro_precision precision, std::uint64_t cells) {
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, cells * value_bytes(precision));
  return {typed_array(env, precision, cells, buffer), buffer.Data()};
}

Napi::Value copy_field(Napi::Env env, ouro_precision precision, const void* data, std::uint64_t cells) {
  const std::size_t bytes = cells * value_bytes(precision);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  std::memcpy(buffer.Data(), data, bytes);
  return typed_array(env, precision, cells, buffer);
}

Napi::Value view_field(Napi::Env env, ouro_precision precision, std::shared_ptr<StateBuffer> state, void* data,
                       std::uint64_t cells) {
  auto owner = std::make_unique<std::shared_ptr<StateBuffer>>(std::move(state));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, data, cells * value_bytes(precision),
      [](Napi::Env, void*, std::shared_ptr<StateBuffer>* released) { delete released; }, owner.get());
  // From here the buffer's finalizer owns the reference.
  owner.release();
  return typed_array(env, precision, cells, buffer);
}

Napi::Float64Array owned_f64_field(Napi::Env env, std::unique_ptr<double[]> data, std::uint64_t cells) {
  Napi::ArrayBuffer buffer =
      Napi::ArrayBuffer::New(env, data.get(), cells * sizeof(double),
                             [](Napi::Env, void* released) { delete[] static_cast<double*>(released); });
  // From here the buffer's finalizer owns the data.
  data.release();
  return Napi::Float64Array::New(env, cells, buffer, 0);
}

Napi::Value adopted_field(Napi::Env env, ouro_precision precision, std::vector<std::byte> data, std::uint64_t cells) {
  auto owner = std::make_unique<std::vector<std::byte>>(std::move(data));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, owner->data(), owner->size(), [](Napi::Env, void*, std::vector<std::byte>* released) { delete released; },
      owner.get());
  // From here the buffer's finalizer owns the data.
  owner.release();
  return typed_array(env, precision, cells, buffer);
}

}  // namespace ouro::addon
