// The module `ouroboros_core`: the exports described by CoreAddon in native/addon-types.ts.
#include <napi.h>

#include <ouroboros/kernel_abi.h>

#include "boundary.h"
#include "core/stream_triad.h"
#include "js_convert.h"
#include "lattice_core_wrap.h"

namespace ouro::addon {
namespace {

Napi::Value stream_triad(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    const std::uint64_t bytes_per_array = read_integer(info[0], "bytesPerArray", 8);
    const auto repetitions = static_cast<std::uint32_t>(read_integer(info[1], "repetitions", 1, UINT32_MAX));
    const auto threads = static_cast<std::uint32_t>(read_integer(info[2], "threads", 1, kMaxThreads));
    const StreamTriadResult triad = ouro::stream_triad(bytes_per_array, repetitions, threads);
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("gbPerSecond", triad.gb_per_second);
    result.Set("bytesPerArray", static_cast<double>(triad.bytes_per_array));
    result.Set("threads", triad.threads);
    return result;
  });
}

}  // namespace
}  // namespace ouro::addon

namespace {

// At global scope: NODE_API_MODULE pastes this name into an identifier.
Napi::Object init(Napi::Env env, Napi::Object exports) {
  using namespace ouro::addon;
  return at_boundary(env, [&] {
    exports.DefineProperties({
        Napi::PropertyDescriptor::Value("LatticeCore", LatticeCoreWrap::define_class(env), napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "streamTriad", stream_triad, napi_enumerable),
        Napi::PropertyDescriptor::Value("kernelAbiVersion", Napi::Number::New(env, OURO_KERNEL_ABI_VERSION),
                                        napi_enumerable),
    });
    return exports;
  });
}

}  // namespace

NODE_API_MODULE(ouroboros_core, init)
