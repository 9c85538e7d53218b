#ifndef OUROBOROS_ADDON_LATTICE_CORE_WRAP_H
#define OUROBOROS_ADDON_LATTICE_CORE_WRAP_H

#include <napi.h>

#include "core/lattice_core.h"

#include <memory>
#include <vector>

namespace ouro::addon {

/// The JS class `LatticeCore`: forwards each method to an ouro::LatticeCore.
class LatticeCoreWrap : public Napi::ObjectWrap<LatticeCoreWrap> {
 public:
  static Napi::Function define_class(Napi::Env env);

  explicit LatticeCoreWrap(const Napi::CallbackInfo& info);

 private:
  using Properties = std::vector<PropertyDescriptor>;
  // The methods and accessors of the JS class, listed by the file that defines them; define_class joins them.
  static Properties state_properties();     // lattice_core_wrap.cpp
  static Properties run_properties();       // lattice_core_wrap_run.cpp: the runner and the slots
  static Properties watchdog_properties();  // lattice_core_wrap_run.cpp: snapshots, probes, canaries, kernel hosts
  static Properties profile_properties();   // lattice_core_wrap_profile.cpp

  void set_state(const Napi::CallbackInfo& info);
  Napi::Value step(const Napi::CallbackInfo& info);
  Napi::Value direct_steps(const Napi::CallbackInfo& info);
  Napi::Value step_count(const Napi::CallbackInfo& info);
  Napi::Value batch_steps(const Napi::CallbackInfo& info);
  Napi::Value kernel_name(const Napi::CallbackInfo& info);
  Napi::Value field(const Napi::CallbackInfo& info);
  Napi::Value previous_field(const Napi::CallbackInfo& info);
  Napi::Value levels(const Napi::CallbackInfo& info);
  Napi::Value views(const Napi::CallbackInfo& info);
  Napi::Value levels_async(const Napi::CallbackInfo& info);
  Napi::Value widened_levels_async(const Napi::CallbackInfo& info);
  Napi::Value readout(const Napi::CallbackInfo& info);
  Napi::Value memory_triad(const Napi::CallbackInfo& info);
  Napi::Value memory_triad_async(const Napi::CallbackInfo& info);
  Napi::Value step_copy(const Napi::CallbackInfo& info);
  Napi::Value step_copy_async(const Napi::CallbackInfo& info);
  Napi::Value readout_async(const Napi::CallbackInfo& info);
  void resume_batch_steps(const Napi::CallbackInfo& info);
  void close(const Napi::CallbackInfo& info);

  Napi::Value run(const Napi::CallbackInfo& info);
  void pause(const Napi::CallbackInfo& info);
  void resume(const Napi::CallbackInfo& info);
  void stop(const Napi::CallbackInfo& info);
  Napi::Value running(const Napi::CallbackInfo& info);
  Napi::Value paused(const Napi::CallbackInfo& info);

  Napi::Value swap(const Napi::CallbackInfo& info);
  Napi::Value rollback(const Napi::CallbackInfo& info);
  Napi::Value slots(const Napi::CallbackInfo& info);
  void wait_for_boundary(const Napi::CallbackInfo& info);
  Napi::Value profile(const Napi::CallbackInfo& info);
  void reset_profile(const Napi::CallbackInfo& info);
  Napi::Value fp_restores(const Napi::CallbackInfo& info);
  void set_fp_restore(const Napi::CallbackInfo& info);
  Napi::Value profile_counters(const Napi::CallbackInfo& info);
  void add_profile_counters(const Napi::CallbackInfo& info);
  void trace_steps(const Napi::CallbackInfo& info);
  Napi::Value take_trace(const Napi::CallbackInfo& info);

  Napi::Value copy_snapshot(const Napi::CallbackInfo& info);
  void settle_snapshot(const Napi::CallbackInfo& info);
  void set_probe(const Napi::CallbackInfo& info);
  void set_probe_whole_level(const Napi::CallbackInfo& info);
  void defer_snapshots(const Napi::CallbackInfo& info);
  void arm_cone_probe(const Napi::CallbackInfo& info);
  Napi::Value take_cone_probe(const Napi::CallbackInfo& info);
  void set_cone_take_rate(const Napi::CallbackInfo& info);
  void settle_cone_probe(const Napi::CallbackInfo& info);
  Napi::Value watchdog_counters(const Napi::CallbackInfo& info);
  Napi::Value recover(const Napi::CallbackInfo& info);
  Napi::Value canary(const Napi::CallbackInfo& info);
  void cancel_canaries(const Napi::CallbackInfo& info);
  Napi::Value open_kernel_host_workspace(const Napi::CallbackInfo& info);
  Napi::Value connect_kernel_host(const Napi::CallbackInfo& info);

  /// The open lattice; throws a JS Error once close() has run.
  LatticeCore& open_core(Napi::Env env);
  /// Copies `bytes` of one live level (chosen at a boundary) into a new typed array.
  Napi::Value copy_live_level(Napi::Env env, bool current);

  // Null after close(). Views hold the state buffer themselves, and a canary
  // in flight holds the core, so neither dangles after close().
  std::shared_ptr<LatticeCore> core_;
};

}  // namespace ouro::addon

#endif
