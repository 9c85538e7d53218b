// Non-temporal stores through compiler builtins (no header, no library call):
// GCC builds the module; clang, the static analyser's compiler, spells them
// differently.
typedef double StreamF64 __attribute__((vector_size(16)));
typedef float StreamF32 __attribute__((vector_size(16)));

template <typename Real>
struct Stream;

template <>
struct Stream<double> {
  using Vector = StreamF64;
#if defined(__clang__)
  static void store(double* out, Vector lanes) { __builtin_nontemporal_store(lanes, reinterpret_cast<Vector*>(out)); }
#else
  static void store(double* out, Vector lanes) { __builtin_ia32_movntpd(out, lanes); }
#endif
};

template <>
struct Stream<float> {
  using Vector = StreamF32;
#if defined(__clang__)
  static void store(float* out, Vector lanes) { __builtin_nontemporal_store(lanes, reinterpret_cast<Vector*>(out)); }
#else
  static void store(float* out, Vector lanes) { __builtin_ia32_movntps(out, lanes); }
#endif
};
