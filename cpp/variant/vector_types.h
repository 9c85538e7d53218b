// Vectors of the isa's width, VARIANT_VECTOR_BYTES bytes. Aligned to their element (a
// row's cells start anywhere) and allowed to alias the lattice's values.
typedef double VectorF64 __attribute__((vector_size(VARIANT_VECTOR_BYTES), aligned(8), may_alias));
typedef float VectorF32 __attribute__((vector_size(VARIANT_VECTOR_BYTES), aligned(4), may_alias));

template <typename Real>
struct Lanes;

template <>
struct Lanes<double> {
  using Vector = VectorF64;
};

template <>
struct Lanes<float> {
  using Vector = VectorF32;
};
