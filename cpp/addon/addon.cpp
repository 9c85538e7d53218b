// The module `ouroboros_core`: the exports described by CoreAddon in native/addon-types.ts.
#include <napi.h>

#include <ouroboros/kernel_abi.h>

#include "boundary.h"
#include "core/elf_header.h"
#include "core/exec_image.h"
#include "core/module_registry.h"
#include "core/peer_credentials.h"
#include "core/remote_kernel.h"
#include "core/stream_triad.h"
#include "core/thread_clock.h"
#include "js_convert.h"
#include "lattice_core_wrap.h"
#include "promise_worker.h"

#include <memory>

namespace ouro::addon {
namespace {

/// The arguments of streamTriad and streamTriadAsync, checked as the core's stream_triad takes them.
struct TriadRequest {
  std::uint64_t bytes_per_array;
  std::uint32_t repetitions;
  std::uint32_t threads;
};

TriadRequest read_triad_request(const Napi::CallbackInfo& info) {
  return {
      .bytes_per_array = read_integer(info[0], "bytesPerArray", 8),
      .repetitions = static_cast<std::uint32_t>(read_integer(info[1], "repetitions", 1, UINT32_MAX)),
      .threads = static_cast<std::uint32_t>(read_integer(info[2], "threads", 1, kMaxThreads)),
  };
}

StreamTriadResult measure_triad(const TriadRequest& request) {
  return ouro::stream_triad(request.bytes_per_array, request.repetitions, request.threads);
}

Napi::Value stream_triad(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(),
                     [&] { return stream_triad_result(info.Env(), measure_triad(read_triad_request(info))); });
}

// streamTriad on a libuv worker thread: its arrays are its own, so nothing it touches is the JS thread's.
Napi::Value stream_triad_async(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    const TriadRequest request = read_triad_request(info);
    auto measured = std::make_shared<StreamTriadResult>();
    return PromiseWorker::start(
        info.Env(), "ouroboros-stream-triad", [request, measured] { *measured = measure_triad(request); },
        [measured](Napi::Env env) -> Napi::Value { return stream_triad_result(env, *measured); });
  });
}

// A refusal is data ({ refused: { path, reason } }), as the loader reports it: the TypeScript side throws.
Napi::Value load_kernel_module(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&]() -> Napi::Value {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
    return load_outcome(info.Env(), ModuleRegistry::instance().load(info[0].As<Napi::String>().Utf8Value()));
  });
}

// Both ends of a new kernel host channel: the caller hands `hostFd` to the host's spawn, then closes it.
Napi::Value open_kernel_host_channel(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    const HostChannel channel = open_host_channel();
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("coreFd", channel.core_fd);
    result.Set("hostFd", channel.host_fd);
    return result;
  });
}

Napi::Value elf_defect(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&]() -> Napi::Value {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
    const std::string defect = ouro::elf_defect(info[0].As<Napi::String>().Utf8Value());
    return defect.empty() ? info.Env().Null() : Napi::String::New(info.Env(), defect);
  });
}

std::vector<std::string> read_strings(const Napi::Value& value, const char* name) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(name) + " must be an array of strings");
  const auto array = value.As<Napi::Array>();
  std::vector<std::string> strings;
  for (std::uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value item = array.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(value.Env(), std::string(name) + " must be an array of strings");
    strings.push_back(item.As<Napi::String>().Utf8Value());
  }
  return strings;
}

// Returns only when execve failed: the reason, as data.
Napi::Value exec_image(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&]() -> Napi::Value {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    const std::vector<std::string> argv = read_strings(info[1], "argv");
    const std::vector<std::string> environment = read_strings(info[2], "environment");
    Napi::Object failure = Napi::Object::New(info.Env());
    failure.Set("error", ouro::exec_image(path, argv, environment));
    return failure;
  });
}

// The credentials of the peer of a connected Unix socket (the control socket's clients and server).
Napi::Value peer_credentials(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    const auto fd = static_cast<int>(read_integer(info[0], "fd", 0, INT32_MAX));
    const PeerCredentials peer = ouro::peer_credentials(fd);
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("pid", static_cast<double>(peer.pid));
    result.Set("uid", peer.uid);
    result.Set("gid", peer.gid);
    return result;
  });
}

// A listening Unix socket at the path, mode 0600 from its creation: the control socket's server.
Napi::Value listen_private_socket(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
    const auto backlog = static_cast<int>(read_integer(info[1], "backlog", 1, 4096));
    return Napi::Number::New(info.Env(), ouro::listen_private_socket(info[0].As<Napi::String>().Utf8Value(), backlog));
  });
}

// The calling (JS) thread's CPU time in ns: what the watchdog's own work costs the cores, waits for one aside.
Napi::Value thread_cpu_ns(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ouro::thread_cpu_ns()));
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
        Napi::PropertyDescriptor::Function(env, exports, "streamTriadAsync", stream_triad_async, napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "loadKernelModule", load_kernel_module, napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "elfDefect", elf_defect, napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "openKernelHostChannel", open_kernel_host_channel,
                                           napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "execImage", exec_image, napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "peerCredentials", peer_credentials, napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "listenPrivateSocket", listen_private_socket, napi_enumerable),
        Napi::PropertyDescriptor::Function(env, exports, "threadCpuNs", thread_cpu_ns, napi_enumerable),
        Napi::PropertyDescriptor::Value("kernelAbiVersion", Napi::Number::New(env, OURO_KERNEL_ABI_VERSION),
                                        napi_enumerable),
    });
    return exports;
  });
}

}  // namespace

NODE_API_MODULE(ouroboros_core, init)
