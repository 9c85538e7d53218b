#ifndef OUROBOROS_ADDON_LATTICE_CORE_WRAP_H
#define OUROBOROS_ADDON_LATTICE_CORE_WRAP_H

#include <napi.h>

#include "core/lattice_core.h"

#include <memory>

namespace ouro::addon {

/// The JS class `LatticeCore`: forwards each method to an ouro::LatticeCore.
class LatticeCoreWrap : public Napi::ObjectWrap<LatticeCoreWrap> {
 public:
  static Napi::Function define_class(Napi::Env env);

  explicit LatticeCoreWrap(const Napi::CallbackInfo& info);

 private:
  void set_state(const Napi::CallbackInfo& info);
  Napi::Value step(const Napi::CallbackInfo& info);
  Napi::Value step_count(const Napi::CallbackInfo& info);
  Napi::Value kernel_name(const Napi::CallbackInfo& info);
  Napi::Value field(const Napi::CallbackInfo& info);
  Napi::Value previous_field(const Napi::CallbackInfo& info);
  Napi::Value views(const Napi::CallbackInfo& info);
  Napi::Value readout(const Napi::CallbackInfo& info);
  Napi::Value step_copy(const Napi::CallbackInfo& info);
  void close(const Napi::CallbackInfo& info);

  /// The open lattice; throws a JS Error once close() has run.
  LatticeCore& open_core(Napi::Env env);

  // Null after close(). Views hold the state buffer themselves, not this.
  std::unique_ptr<LatticeCore> core_;
};

}  // namespace ouro::addon

#endif
