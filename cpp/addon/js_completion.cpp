#include "js_completion.h"

#include <utility>

namespace ouro::addon {

struct JsCompletion::Settlement {
  Napi::Promise::Deferred deferred;
  Builder build;
  std::string error;
};

std::shared_ptr<JsCompletion> JsCompletion::create(Napi::Env env) {
  return std::shared_ptr<JsCompletion>(new JsCompletion(env));
}

JsCompletion::JsCompletion(Napi::Env env)
    : deferred_(Napi::Promise::Deferred::New(env)), queue_(Queue::New(env, "ouroboros-completion", 0, 1)) {}

JsCompletion::~JsCompletion() {
  if (!settled_.load()) settle(nullptr, "the native operation ended without a result");
}

void JsCompletion::resolve(Builder build) { settle(std::move(build), {}); }

void JsCompletion::reject(std::string message) { settle(nullptr, std::move(message)); }

void JsCompletion::settle(Builder build, std::string error) {
  if (settled_.exchange(true)) return;
  queue_.BlockingCall(new Settlement{deferred_, std::move(build), std::move(error)});
  queue_.Release();
}

void JsCompletion::settle_on_js_thread(Napi::Env env, Napi::Function, std::nullptr_t*, Settlement* settlement) {
  const std::unique_ptr<Settlement> owned(settlement);
  // env is null when Node is tearing down: nothing is left to settle.
  if (env == nullptr) return;
  settle_deferred(env, owned->deferred, owned->build, owned->error);
}

void settle_deferred(Napi::Env env, const Napi::Promise::Deferred& deferred, const JsCompletion::Builder& build,
                     const std::string& error) {
  if (!build) {
    deferred.Reject(Napi::Error::New(env, error).Value());
    return;
  }
  try {
    deferred.Resolve(build(env));
  } catch (const Napi::Error& failure) {
    deferred.Reject(failure.Value());
  } catch (const std::exception& failure) {
    deferred.Reject(Napi::Error::New(env, failure.what()).Value());
  }
}

}  // namespace ouro::addon
