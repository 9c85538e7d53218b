/*
 * The N-API half of a `.node` kernel addon: one shared object that Node can
 * require (this file) and the core can dlopen as a kernel module (the
 * `ouro_kernel_entry` of the kernel source it is linked with). CMake builds it
 * with cpp/kernels/reference.cpp, so every version computes the reference
 * kernel's bits; versions differ only in what describe() reports.
 *
 * describe() reads the name from the kernel table itself, so that what Node
 * sees and what the core's slots run can never disagree.
 */
#include <napi.h>

#include <ouroboros/kernel_abi.h>

#include <cstdlib>

#ifndef OURO_NODE_KERNEL_VERSION
#error "OURO_NODE_KERNEL_VERSION must name this build's version, e.g. \"1\""
#endif

extern "C" const ouro_kernel_table* ouro_kernel_entry(void);

namespace {

Napi::Value describe(const Napi::CallbackInfo& info) {
  const ouro_kernel_table* table = ouro_kernel_entry();
  Napi::Object description = Napi::Object::New(info.Env());
  description.Set("name", table->name);
  description.Set("abiVersion", table->abi_version);
  description.Set("version", OURO_NODE_KERNEL_VERSION);
  return description;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
#ifdef OURO_NODE_KERNEL_CRASH_ON_INIT
  // A test build: an addon whose initialisation kills its process, which only
  // the module probe's child may ever load.
  std::abort();
#endif
  exports.Set("describe", Napi::Function::New(env, describe, "describe"));
  return exports;
}

}  // namespace

NODE_API_MODULE(ouroboros_node_kernel, init)
