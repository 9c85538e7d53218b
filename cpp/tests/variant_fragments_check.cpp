// Every fragment of cpp/variant/ through the compiler without the renderer
// (check_variant_fragments.cmake runs g++ -fsyntax-only on this file once per
// VARIANT_CHECK value, and fails if a fragment is included by none). Each
// placeholder is a macro standing for a value the renderer could give it;
// fragments that define the same names (the alternatives a gene chooses
// between) go in different VARIANT_CHECK passes, and statement fragments
// (.inc) go in a block of a function with the variables the renderer's
// context gives them.

// Inline placeholders: a value of the kind the renderer splices in.
#define VARIANT_GRAIN_ROWS 16
#define VARIANT_VECTOR_BYTES 32
#define VARIANT_PREFETCH_CELLS 64
#define VARIANT_TILE_COLS 64
#define VARIANT_TEMPORAL_STEPS 3
#define VARIANT_WAVEFRONT_PLANES 4
#define VARIANT_TILE_BYTES 32768
#define VARIANT_WANTED_BANDS 1
#define VARIANT_BLOCK_STRIP skewed_strip<Real, AXES>(geometry)
#define VARIANT_ADVANCE_BLOCK advance_block<Real, AXES>
#define VARIANT_SPAN_ATTRIBUTES __attribute__((target("avx2")))
#define VARIANT_RESTRICT __restrict
#define VARIANT_FIRST begin
#define VARIANT_STOP end
#define VARIANT_FROM 0
#define VARIANT_TO extent
#define VARIANT_CELL (here[i] + r2)
#define VARIANT_BLOCK_CELL (here[cell] + r2)
#define VARIANT_FIRST_CELL here[0]
#define VARIANT_LAST_CELL here[extent - 1]
#define VARIANT_LEADING_ROW here
// Line placeholders: blocks the renderer inserts; each is checked in its own place below.
#define VARIANT_LINE_CELLS
#define VARIANT_SPAN_BODY
#define VARIANT_FENCE
#define VARIANT_ROW_LOOPS
#define VARIANT_SPAN_CALL
#define VARIANT_HEAD_SPAN_CALL
#define VARIANT_WRAP_SPAN_CALL
#define VARIANT_DEPTH const std::uint64_t depth = TEMPORAL_STEPS;
#define VARIANT_PRAGMAS
#define VARIANT_PREFETCH
#define VARIANT_VECTOR_LAPLACIAN const Vector lap = centre;
#define VARIANT_INTERIOR_LOOP

// clang-format off
// The fragments go in the order a rendering puts them, which sorting would break.
#include "kernel_includes.h"

namespace {

#include "kernel_helpers.h"

#if VARIANT_CHECK == 1
#include "run_items_serial.h"
#elif VARIANT_CHECK == 2
#include "run_items_dynamic.h"
#else
#include "run_items_static.h"
#endif

#include "generic_path.h"
#include "row_view.h"
#include "stream_stores.h"
#include "alignment_check.h"
#include "vector_types.h"
#include "prefetch_distance.h"

#if VARIANT_CHECK == 1
#include "span.h"
#else
#include "span_checked.h"
#endif

#include "tile_cols.h"
#include "sweep_rows.h"

#if VARIANT_CHECK == 1
#include "sweep_once.h"
#include "single_steps.h"
#include "step_any.h"
#elif VARIANT_CHECK == 2
#include "sweep_once.h"
#include "temporal_steps.h"
#include "step_any.h"
#else
#include "line_span.h"
#include "trapezoid_pass.h"
#include "sweep_block.h"
#include "run_bands_serial.h"
#include "trapezoid_steps.h"
#include "step_any_line.h"
#endif

#include "wave_step.h"
// clang-format on

// The statement fragments, each in the scope the renderer puts it in.
template <typename Real, unsigned AXES>
void row_statements(const RowView<Real, AXES>& view, std::uint64_t extent, std::uint64_t begin, std::uint64_t end,
                    Real r2) {
  const Real* here = view.here;
  const Real* plus[AXES] = {};
  const Real* minus[AXES] = {};
  Real* out = view.out;
  (void)plus;
  (void)minus;
#include "line_cells.inc"
  {
#include "span_edges.inc"
  } {
#include "loop_plain.inc"
  } {
#include "loop_plain_prefetch.inc"
  }
  for (std::uint64_t i = begin; i < end; ++i) {
#include "prefetch.inc"
  }
  {
#include "loop_streaming.inc"
  } {
    std::uint64_t first = begin;
    std::uint64_t stop = end;
#include "loop_vector.inc"
  }
  {
    using Vector = typename Lanes<Real>::Vector;
    const std::uint64_t i = begin;
    const Vector centre = *reinterpret_cast<const Vector*>(here + i);
    {
#include "vector_laplacian_row.inc"
      (void)lap;
    }
    {
#include "vector_laplacian_line.inc"
      (void)lap;
    }
  }
#include "fence_rows.inc"
#include "sfence.inc"
}

template <typename Real, unsigned AXES>
void sweep_statements(const ouro_geometry& geometry, const Real* newer, Real* older, std::uint64_t begin,
                      std::uint64_t end, std::uint64_t steps, std::uint64_t done) {
  const std::uint64_t extent = geometry.extents[AXES];
  const std::uint64_t rows = geometry.cells / extent;
  const Real r2 = static_cast<Real>(geometry.courant2);
  const RowView<Real, AXES> view = row_view<Real, AXES>(geometry, newer, older, 0);
  {
#include "rows_loop.inc"
  } {
#include "strips_loop.inc"
  }
#if VARIANT_CHECK == 1
#include "span_call.inc"
#else
#include "span_call_checked.inc"
#endif
  constexpr std::uint64_t TEMPORAL_STEPS = 4;
  {
#include "depth_pair.inc"
    (void)depth;
  }
  {
#include "depth_up_to_4.inc"
    (void)depth;
  }
  {
#include "depth_capped.inc"
    (void)depth;
  }
  (void)steps;
  (void)done;
}

// Instantiated, so that the statements are checked with their types, at both precisions and fast-path widths.
template void row_statements<double, 2>(const RowView<double, 2>&, std::uint64_t, std::uint64_t, std::uint64_t, double);
template void row_statements<float, 1>(const RowView<float, 1>&, std::uint64_t, std::uint64_t, std::uint64_t, float);
template void sweep_statements<double, 2>(const ouro_geometry&, const double*, double*, std::uint64_t, std::uint64_t,
                                          std::uint64_t, std::uint64_t);
template void sweep_statements<float, 1>(const ouro_geometry&, const float*, float*, std::uint64_t, std::uint64_t,
                                         std::uint64_t, std::uint64_t);

}  // namespace

#include "kernel_entry.h"

#if VARIANT_CHECK == 3
// run_bands_pooled.h defines run_bands as run_bands_serial.h does: checked in a namespace of its own.
namespace pooled {
#include "run_bands_pooled.h"
}  // namespace pooled
#endif
