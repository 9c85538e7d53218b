#ifndef OUROBOROS_ADDON_BOUNDARY_H
#define OUROBOROS_ADDON_BOUNDARY_H

#include <napi.h>

#include <exception>
#include <new>

namespace ouro::addon {

/**
 * Runs one entry point's body and turns anything it throws into a JS error:
 * a C++ exception must never unwind into Node. Napi errors (type errors
 * raised while reading arguments, JS exceptions) pass through as they are.
 */
template <typename Body>
auto at_boundary(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "out of memory in the Ouroboros core: try a smaller lattice or fewer threads");
  } catch (const std::exception& error) {
    throw Napi::Error::New(env, error.what());
  } catch (...) {
    throw Napi::Error::New(env, "unknown native exception in the Ouroboros core");
  }
}

}  // namespace ouro::addon

#endif
