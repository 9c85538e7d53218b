#ifndef OUROBOROS_ADDON_PROMISE_WORKER_H
#define OUROBOROS_ADDON_PROMISE_WORKER_H

#include <napi.h>

#include <exception>
#include <functional>
#include <utility>

namespace ouro::addon {

/**
 * Native work off the JS thread, settling a promise: a module's call on
 * copies (a confined module's self-test steps and reads out the whole
 * live-sized lattice through its host, seconds at 4096^2) or a STREAM triad
 * on fresh arrays, which the event loop must not wait for. `work` runs on a
 * libuv worker thread and touches no Napi value; `result` builds the JS
 * value on the JS thread. An exception from `work` rejects the promise with
 * its message.
 */
class PromiseWorker : public Napi::AsyncWorker {
 public:
  /// Queues the work and returns its promise; the worker deletes itself once it has settled it.
  static Napi::Promise start(Napi::Env env, const char* name, std::function<void()> work,
                             std::function<Napi::Value(Napi::Env)> result) {
    auto* worker = new PromiseWorker(env, name, std::move(work), std::move(result));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& error) {
      SetError(error.what());
    } catch (...) {
      SetError("unknown native exception in a native worker");
    }
  }

  void OnOK() override { deferred_.Resolve(result_(Env())); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  PromiseWorker(Napi::Env env, const char* name, std::function<void()> work,
                std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        result_(std::move(result)) {}

  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
};

}  // namespace ouro::addon

#endif
