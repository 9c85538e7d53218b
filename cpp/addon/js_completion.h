#ifndef OUROBOROS_ADDON_JS_COMPLETION_H
#define OUROBOROS_ADDON_JS_COMPLETION_H

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace ouro::addon {

/**
 * A JS promise that native code settles from any thread.
 *
 * Created on the JS thread; resolve() and reject() may be called from the
 * runner or any other thread: they queue the settlement through a
 * thread-safe function, and the value is built on the JS thread by the
 * builder passed in, so no Napi value is ever touched off the JS thread. The
 * first settlement wins; a completion dropped unsettled rejects its promise.
 * Until it settles it keeps the event loop alive.
 */
class JsCompletion {
 public:
  using Builder = std::function<Napi::Value(Napi::Env)>;

  static std::shared_ptr<JsCompletion> create(Napi::Env env);
  ~JsCompletion();
  JsCompletion(const JsCompletion&) = delete;
  JsCompletion& operator=(const JsCompletion&) = delete;

  Napi::Promise promise() const { return deferred_.Promise(); }
  void resolve(Builder build);
  void reject(std::string message);

 private:
  struct Settlement;
  static void settle_on_js_thread(Napi::Env env, Napi::Function, std::nullptr_t*, Settlement* settlement);
  using Queue = Napi::TypedThreadSafeFunction<std::nullptr_t, Settlement, settle_on_js_thread>;

  explicit JsCompletion(Napi::Env env);
  void settle(Builder build, std::string error);

  Napi::Promise::Deferred deferred_;
  Queue queue_;
  std::atomic<bool> settled_{false};
};

/**
 * On the JS thread: resolves `deferred` with what `build` makes (a throw of
 * build's rejects it instead), or rejects it with `error` when `build` is
 * empty.
 */
void settle_deferred(Napi::Env env, const Napi::Promise::Deferred& deferred, const JsCompletion::Builder& build,
                     const std::string& error);

}  // namespace ouro::addon

#endif
