#ifndef OUROBOROS_ADDON_JS_CONVERT_H
#define OUROBOROS_ADDON_JS_CONVERT_H

#include <napi.h>

#include "core/kernel_slots.h"
#include "core/lattice_core.h"
#include "core/stream_triad.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ouro::addon {

/*
 * Conversions between JS values and the core's plain types. The TypeScript
 * layer has validated every argument, so a failed check here is a bug in the
 * caller: it throws a TypeError naming the parameter, never crashes.
 */

struct CoreConfig {
  LatticeConfig lattice;
  std::string kernel_path;
  /// Set when the state lives in a state segment rather than private memory.
  std::optional<SegmentRegion> segment;
};

/// Reads `{ extents, courant2, precision, kernelPath, threads, segment? }`.
CoreConfig read_core_config(const Napi::Value& value);

/// 2^53: every integer up to it is exact as a JS number.
constexpr std::uint64_t kMaxSafeInteger = std::uint64_t{1} << 53;

/// More threads than any machine has: asking for them is a caller's bug.
constexpr std::uint64_t kMaxThreads = 4096;

/// An integer in [min, max].
std::uint64_t read_integer(const Napi::Value& value, const char* name, std::uint64_t min,
                           std::uint64_t max = kMaxSafeInteger);

/// The data of a typed array of the lattice's precision and `cells` elements; valid during this call.
const void* read_field(const Napi::Value& value, const char* name, ouro_precision precision, std::uint64_t cells);

/// The data of a Float64Array of `cells` elements the caller lent to be written; valid during this call.
double* output_f64_field(const Napi::Value& value, const char* name, std::uint64_t cells);

/// The slot named by a JS string ("step" or "readout").
Slot read_slot(const Napi::Value& value, const char* name);

/// A registered kernel module by its id.
std::shared_ptr<const KernelModule> read_module(const Napi::Value& value, const char* name);

/// `{ id, name, path }` of a module.
Napi::Object module_info(Napi::Env env, const KernelModule& module);

/// A load's outcome: the module's info, or `{ refused: { path, reason } }`, data the TypeScript side throws.
Napi::Object load_outcome(Napi::Env env, const KernelModule::LoadResult& loaded);

/// `{ gbPerSecond, bytesPerArray, threads }`: a triad on fresh arrays or on a lattice's own memory.
Napi::Object stream_triad_result(Napi::Env env, const StreamTriadResult& triad);

/// A new, zeroed Float64Array or Float32Array of `cells` elements, and its data.
std::pair<Napi::Value, void*> new_field(Napi::Env env, ouro_precision precision, std::uint64_t cells);

/// A new Float64Array or Float32Array holding a copy of `cells` values at `data`.
Napi::Value copy_field(Napi::Env env, ouro_precision precision, const void* data, std::uint64_t cells);

/// A Float64Array over `data`, which it owns from now on (freed when the array is collected).
Napi::Float64Array owned_f64_field(Napi::Env env, std::unique_ptr<double[]> data, std::uint64_t cells);

/// A Float64Array or Float32Array of `cells` values over `data`, which it owns from now on, as owned_f64_field.
Napi::Value adopted_field(Napi::Env env, ouro_precision precision, std::vector<std::byte> data, std::uint64_t cells);

/**
 * A Float64Array or Float32Array over `data` inside `state`, without a copy.
 * The array's buffer owns a reference to `state`, so the memory outlives the
 * lattice for as long as the array is reachable.
 */
Napi::Value view_field(Napi::Env env, ouro_precision precision, std::shared_ptr<StateBuffer> state, void* data,
                       std::uint64_t cells);

}  // namespace ouro::addon

#endif
