#ifndef OUROBOROS_ADDON_RUN_NOTICES_H
#define OUROBOROS_ADDON_RUN_NOTICES_H

#include "js_completion.h"

#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace ouro::addon {

/**
 * What a run tells JS, on one queue: its watchdog snapshots, its cone probes
 * and, last, its end, which settles the run's promise.
 *
 * One queue keeps the order the runner sent them in. On queues of their own,
 * a snapshot notice sent before the run's end could be served after it, when
 * the lattice had ended the run's watchdog, or begun the next run: that
 * snapshot went unchecked, or was checked against the next run's state.
 *
 * Created on the JS thread; the notices may be sent from any thread, and
 * those sent after the end are dropped. A run's notices dropped without an
 * end reject its promise. Until the end the queue keeps the event loop alive.
 */
class RunNotices {
 public:
  using Builder = JsCompletion::Builder;

  /// `on_snapshot` and `on_cone_probe` are called with a step; either may be empty, for no such notices.
  static std::shared_ptr<RunNotices> create(Napi::Env env, Napi::Function on_snapshot, Napi::Function on_cone_probe);
  ~RunNotices();
  RunNotices(const RunNotices&) = delete;
  RunNotices& operator=(const RunNotices&) = delete;

  /// The run's promise, resolved with what end()'s builder makes; asked for on the JS thread, before the end.
  Napi::Promise promise();
  void snapshot(std::uint64_t step);
  void cone_probe(std::uint64_t step);
  void end(Builder build);

 private:
  struct Listeners;
  struct Notice;
  static void deliver(Napi::Env env, Napi::Function, Listeners* listeners, Notice* notice);
  using Queue = Napi::TypedThreadSafeFunction<Listeners, Notice, deliver>;

  explicit RunNotices(Napi::Env env, Napi::Function on_snapshot, Napi::Function on_cone_probe);
  void send(Notice* notice, bool last);

  Queue queue_;
  /// Serialises sends with the end, after which the queue is released.
  std::mutex mutex_;
  bool ended_ = false;
};

}  // namespace ouro::addon

#endif
