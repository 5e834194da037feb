// The x86 micro-kernels, written once over the vector-width layer (simd_x86.h: V = Ymm or
// Zmm).  Included inside `namespace lowbit { namespace {` by each tier's TU, so every tier
// gets its own internal copy compiled with only that tier's flags.  Each register tile is
// MR rows x two vectors (NR = 2 * V::kLanes columns).  Operand layouts: kernel.h; the
// arithmetic and why nothing overflows: docs/formats.md and the tier TUs' headers.
#pragma once

// Rows spelled out: GCC keeps named vectors in registers but spills a 2-D array of them to
// the stack on every iteration.  Rows at or past MR compile away.
#define LB_ROWS(X) \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)
constexpr int kMaxRows = 14;

template <class V>
constexpr int nr_of() {
  return 2 * V::kLanes;
}

template <class V>
inline void store_i32(int32_t* row, typename V::I v0, typename V::I v1, int accumulate) {
  if (accumulate) {
    v0 = V::add32(v0, V::loadu(row));
    v1 = V::add32(v1, V::loadu(row + V::kLanes));
  }
  V::storeu(row, v0);
  V::storeu(row + V::kLanes, v1);
}

#define LB_DECL_I(r) typename V::I c##r##0 = V::zero_i(), c##r##1 = V::zero_i();
#define LB_STORE_I(r) \
  if (r < MR) store_i32<V>(C + r * ldc, c##r##0, c##r##1, accumulate);

// Starts fetching the MR rows of the C tile a kernel stores (or reads) after its k loop:
// the first and the last of each row's `cols` elements of T, rows ldc elements apart.
template <int MR, typename T>
inline void prefetch_c_tile(const void* c, int64_t ldc, int cols) {
  for (int r = 0; r < MR; ++r) {
    const T* row = static_cast<const T*>(c) + r * ldc;
    _mm_prefetch(reinterpret_cast<const char*>(row), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + cols - 1), _MM_HINT_T0);
  }
}

// The 1-row fp32 tile (GEMV-like calls) over P adjacent B panels (b, b + b_stride bytes,
// ...): a GEMV is bound by memory, and P = 4 keeps four streams in flight and eight
// accumulators (eight FMAs, as the FMA latency needs).  Every column sums in k order
// whatever P is (the driver mixes P = 1 and P > 1: same bits for any split of N).  The order
// differs from the multi-row tile's, which fp32's K-scaled tolerance covers.
template <class V, int P>
void f32_row(int64_t kc, const void* a, const void* b, int64_t b_stride, void* c,
             int accumulate) {
  constexpr int kNR = nr_of<V>();
  using F = typename V::F;
  const float* A = static_cast<const float*>(a);
  const float* B[P];
  for (int p = 0; p < P; ++p)
    B[p] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(b) + p * b_stride);
  F acc[P][2];
  for (int p = 0; p < P; ++p) acc[p][0] = acc[p][1] = V::zero_f();
  for (int64_t k = 0; k < kc; ++k) {
    const F av = V::bcast_f(A + k);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      acc[p][0] = V::fmadd(av, V::load_bf(B[p] + k * kNR), acc[p][0]);
      acc[p][1] = V::fmadd(av, V::load_bf(B[p] + k * kNR + V::kLanes), acc[p][1]);
    }
  }
  float* C = static_cast<float*>(c);
  for (int p = 0; p < P; ++p) {
    float* out = C + p * kNR;
    if (accumulate) {
      acc[p][0] = V::add_f(acc[p][0], V::loadu_f(out));
      acc[p][1] = V::add_f(acc[p][1], V::loadu_f(out + V::kLanes));
    }
    V::storeu_f(out, acc[p][0]);
    V::storeu_f(out + V::kLanes, acc[p][1]);
  }
}

// One panel of the row tile, as a plain micro-kernel (the ukernel beside ukernel_wide).
template <class V>
void f32_row1(int64_t kc, const void* a, const void* b, void* c, int64_t, int accumulate) {
  f32_row<V, 1>(kc, a, b, 0, c, accumulate);
}

// fp32 MR x NR: vfmadd231ps with the A element broadcast, 2*MR accumulators.
// NV = 1: only the first V::kLanes columns (the edge kernel of panels that narrow: the
// others are stored as 0); each column sums in the same order as with NV = 2.
// kDirect: A read in place, row r of the tile at a + r * lda floats (no packing; XNNPACK's
// GEMMs read A this way); else the packed panel [kc][MR] (lda unused).  Each element sums in
// the same order either way (one FMA per k, k ascending), so packed and in-place panels give
// the same bits.
// BS: floats per k of the packed B panel (0: V's own panel width, 2 * V::kLanes); a wider
// family's panel read by narrower vectors (the quarter-width edge: Ymm on a Zmm panel).
template <class V, int MR, int NV, bool kDirect, int BS = 0>
[[gnu::always_inline]] inline void f32_tile_body(int64_t kc, const float* a, int64_t lda,
                                                 const void* b, void* c, int64_t ldc,
                                                 int accumulate) {
  static_assert(MR >= 1 && MR <= kMaxRows, "LB_ROWS spells out 14 rows");
  static_assert(NV == 1 || NV == 2, "one or two vectors of columns");
  static_assert(BS == 0 || BS >= 2 * V::kLanes, "a panel at least as wide as the tile");
  constexpr int kNR = BS ? BS : nr_of<V>();
  // Unrolled (V's choice) only where the row addresses fit the registers: an in-place tile
  // of more than 6 rows keeps its accumulators pinned instead (unrolled, the 12-row ymm
  // edge recomputed row addresses every step and took 56% of a full 12x32 tile's time).
  constexpr bool kUnroll = V::kUnrollF32 && !(kDirect && MR > 6);
  constexpr int64_t kStep = kDirect ? 1 : MR;  // floats from one k to the next in a row
  using F = typename V::F;
  const float* B = static_cast<const float*>(b);
#define LB_DECL(r)                                  \
  F c##r##0 = V::zero_f(), c##r##1 = V::zero_f();   \
  const float* A##r = a + (r < MR ? r : 0) * (kDirect ? lda : 1);
  LB_ROWS(LB_DECL)
#undef LB_DECL
  if constexpr (V::kPrefetchC) prefetch_c_tile<MR, float>(c, ldc, kNR);
#define LB_FMA(r)                              \
  if (r < MR) {                                \
    const F av = V::bcast_f(A##r + k * kStep); \
    c##r##0 = V::fmadd(av, b0, c##r##0);       \
    if constexpr (NV > 1)                      \
      c##r##1 = V::fmadd(av, b1, c##r##1);     \
    if constexpr (!kUnroll) {                  \
      LB_PIN(c##r##0);                         \
      if constexpr (NV > 1) LB_PIN(c##r##1);   \
    }                                          \
  }
#define LB_K_STEP                                                      \
  {                                                                    \
    const F b0 = V::load_bf(B + k * kNR);                              \
    const F b1 = NV > 1 ? V::load_bf(B + k * kNR + V::kLanes) : b0;    \
    LB_ROWS(LB_FMA)                                                    \
  }
  if constexpr (kUnroll) {
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k) LB_K_STEP
  } else {
    for (int64_t k = 0; k < kc; ++k) LB_K_STEP
  }
#undef LB_K_STEP
#undef LB_FMA
  float* C = static_cast<float*>(c);
#define LB_STORE(r)                                                 \
  if (r < MR) {                                                     \
    float* row = C + r * ldc;                                       \
    if (accumulate) {                                               \
      c##r##0 = V::add_f(c##r##0, V::loadu_f(row));                 \
      c##r##1 = V::add_f(c##r##1, V::loadu_f(row + V::kLanes));     \
    }                                                               \
    V::storeu_f(row, c##r##0);                                      \
    V::storeu_f(row + V::kLanes, c##r##1);                          \
  }
  LB_ROWS(LB_STORE)
#undef LB_STORE
}

template <class V, int MR, int NV = 2>
void f32_tile(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  f32_tile_body<V, MR, NV, false>(kc, static_cast<const float*>(a), 0, b, c, ldc, accumulate);
}

// f32_tile with A read in place (KernelDesc::ukernel_direct): lda in bytes.
template <class V, int MR, int NV = 2>
void f32_tile_direct(int64_t kc, const uint8_t* a, int64_t lda, const void* b, void* c,
                     int64_t ldc, int accumulate) {
  f32_tile_body<V, MR, NV, true>(kc, reinterpret_cast<const float*>(a),
                                 lda / int64_t(sizeof(float)), b, c, ldc, accumulate);
}

// The two above on a wider family's panel (BS floats per k): the quarter-width edge.
// Separate names keep the main tiles' symbols (ci/armmodel/x86.py finds them by name).
template <class V, int MR, int NV, int BS>
void f32_tile_of(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  f32_tile_body<V, MR, NV, false, BS>(kc, static_cast<const float*>(a), 0, b, c, ldc, accumulate);
}
template <class V, int MR, int NV, int BS>
void f32_tile_direct_of(int64_t kc, const uint8_t* a, int64_t lda, const void* b, void* c,
                        int64_t ldc, int accumulate) {
  f32_tile_body<V, MR, NV, true, BS>(kc, reinterpret_cast<const float*>(a),
                                     lda / int64_t(sizeof(float)), b, c, ldc, accumulate);
}

// Exact u8 x s8 without VNNI.  A: int16 [kc/2][MR][2] (x widened while packing);
// B: int8 [kc/2][NR][2], sign-extended in registers; vpmaddwd pair sums never saturate
// (2 * 255 * 128 < 2^31).
// NV = 1: the first V::kLanes columns only (as f32_tile).
template <class V, int MR, int NV = 2>
void qu8s8_c2(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= kMaxRows, "LB_ROWS spells out 14 rows");
  static_assert(NV == 1 || NV == 2, "one or two vectors of columns");
  constexpr int kNR = nr_of<V>();
  const int16_t* A = static_cast<const int16_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  LB_ROWS(LB_DECL_I)
  for (int64_t g = 0; g < kc / 2; ++g) {
    const typename V::I b0 = V::widen_s8(B);
    const typename V::I b1 = NV > 1 ? V::widen_s8(B + kNR) : b0;
#define LB_MADD(r)                                            \
  if (r < MR) {                                               \
    const typename V::I av = V::set1_32(x86::load32(A + 2 * r));   \
    c##r##0 = V::add32(c##r##0, V::madd16(av, b0));           \
    if constexpr (NV > 1)                                     \
      c##r##1 = V::add32(c##r##1, V::madd16(av, b1));         \
    LB_PIN(c##r##0);                                          \
    if constexpr (NV > 1) LB_PIN(c##r##1);                    \
  }
    LB_ROWS(LB_MADD)
#undef LB_MADD
    A += 2 * MR;
    B += 2 * kNR;
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// The 16-bit accumulation of int4 and 4.6bit (vpmaddubsw + vpaddw up to the flush period,
// then one widening per accumulator).  A: int8 [kc/4][MR][4] (the signed operand);
// B: uint8 weights [kc/4][NR][4] (the unsigned operand), as bytes or as nibbles
// (Elem::kU4: one block of 4*NR bytes holds group 2h low and 2h+1 high).
// kUnsignedLanes: the int16 lanes hold unsigned sums (int4: every product is >= 0).
template <class V, int MR, bool kNibbles, bool kUnsignedLanes>
void lowbit_c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= kMaxRows, "LB_ROWS spells out 14 rows");
  constexpr int kNR = nr_of<V>();
  constexpr int kGroup = 4 * kNR;  // bytes of one k-group of B
  using I = typename V::I;
  const int8_t* A = static_cast<const int8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  LB_ROWS(LB_DECL_I)
#define LB_STEP(r, b0, b1, Ag)                                  \
  if (r < MR) {                                                 \
    if constexpr (V::kRowFence) LB_ROW_FENCE();                 \
    const I av = V::set1_32(x86::load32(Ag + 4 * r));                \
    c##r##0 = V::add16(c##r##0, V::maddubs(b0, av));            \
    c##r##1 = V::add16(c##r##1, V::maddubs(b1, av));            \
    LB_PIN(c##r##0);                                            \
    LB_PIN(c##r##1);                                            \
  }
#define LB_STEP_LO(r) LB_STEP(r, lo0, lo1, A)
#define LB_STEP_HI(r) LB_STEP(r, hi0, hi1, (A + 4 * MR))
  if constexpr (kNibbles) {
    const I low4 = V::set1_8(0x0F);
    for (int64_t h = 0; h < kc / 8; ++h) {
      if constexpr (V::kReloadNibbles) {
        const I lo0 = V::and_(V::load_b(B), low4);
        const I lo1 = V::and_(V::load_b(B + kGroup / 2), low4);
        LB_ROWS(LB_STEP_LO)
        // Load the bytes again for the high nibbles rather than keeping them live: with
        // 2*MR accumulators in 16 registers there is none to spare (the asm hides the
        // reuse from CSE).
        const uint8_t* Bh = B;
        __asm__("" : "+r"(Bh));
        const I hi0 = V::and_(V::srli16(V::load_b(Bh), 4), low4);
        const I hi1 = V::and_(V::srli16(V::load_b(Bh + kGroup / 2), 4), low4);
        LB_ROWS(LB_STEP_HI)
      } else {
        const I v0 = V::load_b(B);
        const I v1 = V::load_b(B + kGroup / 2);
        const I lo0 = V::and_(v0, low4), lo1 = V::and_(v1, low4);
        LB_ROWS(LB_STEP_LO)
        const I hi0 = V::and_(V::srli16(v0, 4), low4);
        const I hi1 = V::and_(V::srli16(v1, 4), low4);
        LB_ROWS(LB_STEP_HI)
      }
      A += 8 * MR;
      B += kGroup;
    }
  } else if constexpr (V::kTwoGroupsPerIter) {
    // Two k-groups per iteration, as in the nibble loop: one group per iteration leaves
    // GCC shuffling the pinned accumulators with register moves (front-end bound).
    int64_t g = 0;
    for (; g + 2 <= kc / 4; g += 2) {
      const I lo0 = V::load_b(B);
      const I lo1 = V::load_b(B + kGroup / 2);
      LB_ROWS(LB_STEP_LO)
      const I hi0 = V::load_b(B + kGroup);
      const I hi1 = V::load_b(B + kGroup + kGroup / 2);
      LB_ROWS(LB_STEP_HI)
      A += 8 * MR;
      B += 2 * kGroup;
    }
    if (g < kc / 4) {
      const I lo0 = V::load_b(B);
      const I lo1 = V::load_b(B + kGroup / 2);
      LB_ROWS(LB_STEP_LO)
    }
  } else {
    for (int64_t g = 0; g < kc / 4; ++g) {
      const I lo0 = V::load_b(B);
      const I lo1 = V::load_b(B + kGroup / 2);
      LB_ROWS(LB_STEP_LO)
      A += 4 * MR;
      B += kGroup;
    }
  }
#undef LB_STEP_HI
#undef LB_STEP_LO
#undef LB_STEP
  // Flush: each column's two int16 pair-lanes (one 32-bit lane) -> one int32, exactly.
  if constexpr (kUnsignedLanes) {
    const I low16 = V::set1_32(0xFFFF);
#define LB_WIDEN(r)                                                                 \
  if (r < MR) {                                                                     \
    c##r##0 = V::add32(V::and_(c##r##0, low16), V::srli32(c##r##0, 16));            \
    c##r##1 = V::add32(V::and_(c##r##1, low16), V::srli32(c##r##1, 16));            \
  }
    LB_ROWS(LB_WIDEN)
#undef LB_WIDEN
  } else {
    const I ones = V::set1_16(1);
#define LB_WIDEN(r)                             \
  if (r < MR) {                                 \
    c##r##0 = V::madd16(c##r##0, ones);         \
    c##r##1 = V::madd16(c##r##1, ones);         \
  }
    LB_ROWS(LB_WIDEN)
#undef LB_WIDEN
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// int8 for 7-bit activations (codes 0..127), chosen per call by the driver (KernelDesc::
// narrow).  A: uint8 [kc/4][MR][4]; B: int8 [kc/4][NR][4].  vpmaddubsw adds two u8 x s8
// products into int16: |sum| <= 2 * 127 * 128 = 32512, so it never saturates for such
// activations (it would for codes >= 128); vpmaddwd with ones widens the two pair sums of
// each column into int32.  No sign extension of B.
// NV = 1: the first V::kLanes columns only (as f32_tile).
template <class V, int MR, int NV = 2>
void qu7s8_c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= kMaxRows, "LB_ROWS spells out 14 rows");
  static_assert(NV == 1 || NV == 2, "one or two vectors of columns");
  constexpr int kNR = nr_of<V>();
  using I = typename V::I;
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  LB_ROWS(LB_DECL_I)
  const I ones = V::set1_16(1);
  for (int64_t g = 0; g < kc / 4; ++g) {
    const I b0 = V::load_b(B);
    const I b1 = NV > 1 ? V::load_b(B + 2 * kNR) : b0;
#define LB_Q7(r)                                                           \
  if (r < MR) {                                                            \
    const I av = V::set1_32(x86::load32(A + 4 * r));                       \
    c##r##0 = V::add32(c##r##0, V::madd16(V::maddubs(av, b0), ones));      \
    if constexpr (NV > 1)                                                  \
      c##r##1 = V::add32(c##r##1, V::madd16(V::maddubs(av, b1), ones));    \
    LB_PIN(c##r##0);                                                       \
    if constexpr (NV > 1) LB_PIN(c##r##1);                                 \
  }
    LB_ROWS(LB_Q7)
#undef LB_Q7
    A += 4 * MR;
    B += 4 * kNR;
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// vpdpbusd (VNNI): 4 u8 x s8 products into each int32 lane, no saturation (never vpdpbusds).
//  bytes   (int8, 4.6bit): A uint8 [kc/4][MR][4] the unsigned operand; B int8 [kc/4][NR][4].
//  nibbles (int4): B nibbles (0..15) unpacked in registers are the unsigned operand, the
//      activation codes 0..15 (A int8 [kc/4][MR][4]) the signed one; one 4*NR-byte block per
//      two k-groups (group 2h in the low nibbles, 2h+1 in the high ones).
// NV = 1: the first V::kLanes columns only (as f32_tile).
// kDirect (bytes only): A read in place, row r of the tile at a + r * lda bytes, group g at
// + 4 * g (KernelDesc::ukernel_direct); else the packed panel (lda unused).  Every lane sums
// the same products in the same order either way (int32, exact): the same bits.
template <class V, int MR, bool kNibbles, int NV, bool kDirect>
[[gnu::always_inline]] inline void dot_c4_body(int64_t kc, const uint8_t* a, int64_t lda,
                                               const void* b, void* c, int64_t ldc,
                                               int accumulate) {
  static_assert(MR >= 1 && MR <= kMaxRows, "LB_ROWS spells out 14 rows");
  static_assert(NV == 1 || NV == 2, "one or two vectors of columns");
  static_assert(!(kDirect && kNibbles), "in place: byte codes only");
  constexpr int kNR = nr_of<V>();
  using I = typename V::I;
  const uint8_t* A = a;
  const uint8_t* B = static_cast<const uint8_t*>(b);
  LB_ROWS(LB_DECL_I)
  // In place: rows 0..7 from A, 8..13 from A8, each as base + a multiple of lda that x86
  // addressing takes (1, 2, 4 or 8 times lda, l3, l5 or l7): two pointers to advance per
  // group, not one per row.
  const int64_t l1 = lda, l3 = 3 * lda, l5 = 5 * lda, l7 = 7 * lda;
  const uint8_t* A8 = a + 8 * lda;
  if constexpr (V::kPrefetchC) prefetch_c_tile<MR, int32_t>(c, ldc, NV * V::kLanes);
  auto row = [&](int r) -> const uint8_t* {
    if (!kDirect) return A + 4 * r;
    const uint8_t* base = r < 8 ? A : A8;
    switch (r & 7) {
      case 0: return base;
      case 1: return base + l1;
      case 2: return base + 2 * l1;
      case 3: return base + l3;
      case 4: return base + 4 * l1;
      case 5: return base + l5;
      case 6: return base + 2 * l3;
      default: return base + l7;
    }
  };
#define LB_DOT(r, w0, w1, Ag)                                                       \
  if (r < MR) {                                                                     \
    const I av = V::set1_32(x86::load32(Ag));                                       \
    c##r##0 = kNibbles ? V::dpbusd(c##r##0, w0, av) : V::dpbusd(c##r##0, av, w0);   \
    if constexpr (NV > 1)                                                           \
      c##r##1 = kNibbles ? V::dpbusd(c##r##1, w1, av) : V::dpbusd(c##r##1, av, w1); \
    LB_PIN(c##r##0);                                                                \
    if constexpr (NV > 1) LB_PIN(c##r##1);                                          \
  }
#define LB_DOT_LO(r) LB_DOT(r, lo0, lo1, row(r))
#define LB_DOT_HI(r) LB_DOT(r, hi0, hi1, (A + 4 * MR + 4 * r))
  if constexpr (kNibbles) {
    const I low4 = V::set1_8(0x0F);
    for (int64_t h = 0; h < kc / 8; ++h) {
      const I v0 = V::loadu(B);
      const I v1 = NV > 1 ? V::loadu(B + 2 * kNR) : v0;
      const I lo0 = V::and_(v0, low4), lo1 = NV > 1 ? V::and_(v1, low4) : lo0;
      LB_ROWS(LB_DOT_LO)
      const I hi0 = V::and_(V::srli16(v0, 4), low4);
      const I hi1 = NV > 1 ? V::and_(V::srli16(v1, 4), low4) : hi0;
      LB_ROWS(LB_DOT_HI)
      A += 8 * MR;
      B += 4 * kNR;
    }
  } else {
    for (int64_t g = 0; g < kc / 4; ++g) {
      const I lo0 = V::loadu(B);
      const I lo1 = NV > 1 ? V::loadu(B + 2 * kNR) : lo0;
      LB_ROWS(LB_DOT_LO)
      A += kDirect ? 4 : 4 * MR;
      if constexpr (kDirect) A8 += 4;
      B += 4 * kNR;
    }
  }
#undef LB_DOT_HI
#undef LB_DOT_LO
#undef LB_DOT
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

template <class V, int MR, bool kNibbles, int NV = 2>
void dot_c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  dot_c4_body<V, MR, kNibbles, NV, false>(kc, static_cast<const uint8_t*>(a), 0, b, c, ldc,
                                          accumulate);
}

// dot_c4 (bytes) with A read in place (KernelDesc::ukernel_direct): lda in bytes.
template <class V, int MR, int NV = 2>
void dot_c4_direct(int64_t kc, const uint8_t* a, int64_t lda, const void* b, void* c,
                   int64_t ldc, int accumulate) {
  dot_c4_body<V, MR, false, NV, true>(kc, a, lda, b, c, ldc, accumulate);
}
