#include "run_notices.h"

#include <utility>

namespace ouro::addon {

/// Owned by the queue and deleted on the JS thread once it is released: the references may be touched only there.
struct RunNotices::Listeners {
  Napi::FunctionReference on_snapshot;
  Napi::FunctionReference on_cone_probe;
  Napi::Promise::Deferred deferred;
};

struct RunNotices::Notice {
  enum class Kind { snapshot, cone_probe, end } kind;
  std::uint64_t step = 0;
  /// The end's: the run's result, or the rejection's message when empty.
  Builder build;
  std::string error;
};

namespace {

Napi::FunctionReference hold(Napi::Function function) {
  return function.IsEmpty() ? Napi::FunctionReference() : Napi::Persistent(function);
}

}  // namespace

std::shared_ptr<RunNotices> RunNotices::create(Napi::Env env, Napi::Function on_snapshot,
                                               Napi::Function on_cone_probe) {
  return std::shared_ptr<RunNotices>(new RunNotices(env, on_snapshot, on_cone_probe));
}

RunNotices::RunNotices(Napi::Env env, Napi::Function on_snapshot, Napi::Function on_cone_probe) {
  auto* listeners = new Listeners{hold(on_snapshot), hold(on_cone_probe), Napi::Promise::Deferred::New(env)};
  queue_ =
      Queue::New(env, "ouroboros-run", 0, 1, listeners, [](Napi::Env, void*, Listeners* released) { delete released; });
}

RunNotices::~RunNotices() { send(new Notice{Notice::Kind::end, 0, nullptr, "the run ended without a result"}, true); }

Napi::Promise RunNotices::promise() { return queue_.GetContext()->deferred.Promise(); }

void RunNotices::snapshot(std::uint64_t step) { send(new Notice{Notice::Kind::snapshot, step, nullptr, {}}, false); }

void RunNotices::cone_probe(std::uint64_t step) {
  send(new Notice{Notice::Kind::cone_probe, step, nullptr, {}}, false);
}

void RunNotices::end(Builder build) { send(new Notice{Notice::Kind::end, 0, std::move(build), {}}, true); }

void RunNotices::send(Notice* notice, bool last) {
  std::unique_ptr<Notice> owned(notice);
  std::lock_guard<std::mutex> lock(mutex_);
  if (ended_) return;
  // The queue is unbounded: the call never waits, and fails only while Node tears the queue down.
  if (queue_.BlockingCall(owned.get()) == napi_ok) owned.release();
  if (!last) return;
  ended_ = true;
  queue_.Release();
}

void RunNotices::deliver(Napi::Env env, Napi::Function, Listeners* listeners, Notice* notice) {
  const std::unique_ptr<Notice> owned(notice);
  // env is null when Node is tearing down: nobody is left to tell.
  if (env == nullptr) return;
  auto call = [&](const Napi::FunctionReference& listener) {
    if (!listener.IsEmpty()) listener.Call({Napi::Number::New(env, static_cast<double>(owned->step))});
  };
  switch (owned->kind) {
    case Notice::Kind::snapshot:
      call(listeners->on_snapshot);
      return;
    case Notice::Kind::cone_probe:
      call(listeners->on_cone_probe);
      return;
    case Notice::Kind::end:
      break;
  }
  settle_deferred(env, listeners->deferred, owned->build, owned->error);
}

}  // namespace ouro::addon
