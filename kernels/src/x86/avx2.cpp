// `avx2` tier (AVX2 + FMA; the Haswell / Zen class).  Compiled with -mavx2 -mfma only.
//
//  f32  6x16   : vfmadd231ps, 12 ymm accumulators.
//  int8 6x16c2 : exact u8 x s8 without VNNI: x widened to int16 while packing, weights kept
//                as bytes (half the memory traffic) and sign-extended in registers
//                (vpmovsxbw), vpmaddwd gives int32 pair sums that never saturate
//                (2 * 255 * 128 < 2^31), vpaddd accumulates.  16 MACs per multiply.
//  int4 / 4.6bit 6x16c4 : vpmaddubsw (unsigned weights x signed activations) adds two
//                products into an int16 lane, vpaddw keeps summing in int16 for up to the
//                flush period (driver's KC), and one vpmaddwd-with-ones per accumulator
//                widens the two pair lanes of each column into int32 at the end of the
//                call.  32 MACs per multiply: the 16-bit accumulation of the papers
//                (docs/formats.md derives why no lane or step can overflow).
#include <immintrin.h>

#include "../internal.h"

namespace lowbit {
namespace {

constexpr int kNR = 16;

// Six rows of two accumulators, spelled out: GCC keeps named vectors in registers but
// spills a 2-D array of them to the stack on every iteration.
#define LB_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
// An empty asm that claims to modify v: stops GCC from re-associating the accumulation
// chains across rows (which raises register pressure and spills accumulators).
#define LB_PIN(v) __asm__("" : "+x"(v))

template <int MR>
void f32_x16(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  const float* A = static_cast<const float*>(a);
  const float* B = static_cast<const float*>(b);
#define LB_DECL(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps();
  LB_ROWS(LB_DECL)
#undef LB_DECL
  // The C tile is read (or written) after the k loop: start fetching it now.
  for (int r = 0; r < MR; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(static_cast<float*>(c) + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(static_cast<float*>(c) + r * ldc + 15), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(B);
    const __m256 b1 = _mm256_load_ps(B + 8);
#define LB_FMA(r)                                   \
  if (r < MR) {                                     \
    const __m256 av = _mm256_broadcast_ss(A + r);   \
    c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);     \
    c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);     \
  }
    LB_ROWS(LB_FMA)
#undef LB_FMA
    A += MR;
    B += kNR;
  }
  float* C = static_cast<float*>(c);
#define LB_STORE(r)                                                  \
  if (r < MR) {                                                      \
    float* row = C + r * ldc;                                        \
    if (accumulate) {                                                \
      c##r##0 = _mm256_add_ps(c##r##0, _mm256_loadu_ps(row));        \
      c##r##1 = _mm256_add_ps(c##r##1, _mm256_loadu_ps(row + 8));    \
    }                                                                \
    _mm256_storeu_ps(row, c##r##0);                                  \
    _mm256_storeu_ps(row + 8, c##r##1);                              \
  }
  LB_ROWS(LB_STORE)
#undef LB_STORE
}

// The 1-row fp32 tile (GEMV-like calls) over P adjacent B panels (b, b + b_stride bytes,
// ...): a GEMV is bound by memory, and P = 4 keeps four streams in flight and eight
// accumulators (eight FMAs, as the FMA latency needs).  Every column sums in k order
// whatever P is (the driver mixes P = 1 and 4: same bits for any split of N).  The order
// differs from the 6-row tile's, which fp32's K-scaled tolerance covers.
template <int P>
void f32_row_x16(int64_t kc, const void* a, const void* b, int64_t b_stride, void* c,
                 int accumulate) {
  const float* A = static_cast<const float*>(a);
  const float* B[P];
  for (int p = 0; p < P; ++p)
    B[p] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(b) + p * b_stride);
  __m256 acc[P][2];
  for (int p = 0; p < P; ++p) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 av = _mm256_broadcast_ss(A + k);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      acc[p][0] = _mm256_fmadd_ps(av, _mm256_load_ps(B[p] + k * kNR), acc[p][0]);
      acc[p][1] = _mm256_fmadd_ps(av, _mm256_load_ps(B[p] + k * kNR + 8), acc[p][1]);
    }
  }
  float* C = static_cast<float*>(c);
  for (int p = 0; p < P; ++p) {
    float* row = C + p * kNR;
    if (accumulate) {
      acc[p][0] = _mm256_add_ps(acc[p][0], _mm256_loadu_ps(row));
      acc[p][1] = _mm256_add_ps(acc[p][1], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, acc[p][0]);
    _mm256_storeu_ps(row + 8, acc[p][1]);
  }
}

void f32_1x16(int64_t kc, const void* a, const void* b, void* c, int64_t, int accumulate) {
  f32_row_x16<1>(kc, a, b, 0, c, accumulate);
}

// The edge panel of a one-row call (fewer than 16 real columns, never in a wide call: any
// summation order): k split into four phases with their own accumulators, so the loop does
// not wait on the FMA latency (two accumulators per k would).
void f32_1x16_edge(int64_t kc, const void* a, const void* b, void* c, int64_t, int accumulate) {
  const float* A = static_cast<const float*>(a);
  const float* B = static_cast<const float*>(b);
  __m256 acc[4][2];
  for (auto& p : acc) p[0] = p[1] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4)
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      const __m256 av = _mm256_broadcast_ss(A + k + p);
      acc[p][0] = _mm256_fmadd_ps(av, _mm256_load_ps(B + (k + p) * kNR), acc[p][0]);
      acc[p][1] = _mm256_fmadd_ps(av, _mm256_load_ps(B + (k + p) * kNR + 8), acc[p][1]);
    }
  for (; k < kc; ++k) {
    const __m256 av = _mm256_broadcast_ss(A + k);
    acc[0][0] = _mm256_fmadd_ps(av, _mm256_load_ps(B + k * kNR), acc[0][0]);
    acc[0][1] = _mm256_fmadd_ps(av, _mm256_load_ps(B + k * kNR + 8), acc[0][1]);
  }
  __m256 s0 = _mm256_add_ps(_mm256_add_ps(acc[0][0], acc[1][0]),
                            _mm256_add_ps(acc[2][0], acc[3][0]));
  __m256 s1 = _mm256_add_ps(_mm256_add_ps(acc[0][1], acc[1][1]),
                            _mm256_add_ps(acc[2][1], acc[3][1]));
  float* C = static_cast<float*>(c);
  if (accumulate) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(C));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(C + 8));
  }
  _mm256_storeu_ps(C, s0);
  _mm256_storeu_ps(C + 8, s1);
}

inline void store_i32(int32_t* row, __m256i v0, __m256i v1, int accumulate) {
  if (accumulate) {
    v0 = _mm256_add_epi32(v0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)));
    v1 = _mm256_add_epi32(v1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 8)));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), v0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + 8), v1);
}

inline __m256i bcast32(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

#define LB_DECL_I(r) __m256i c##r##0 = _mm256_setzero_si256(), c##r##1 = _mm256_setzero_si256();
#define LB_STORE_I(r) \
  if (r < MR) store_i32(C + r * ldc, c##r##0, c##r##1, accumulate);

// A: int16 [kc/2][6][2]; B: int8 [kc/2][16][2].
template <int MR>
void qu8s8_x16c2(int64_t kc, const void* a, const void* b, void* c, int64_t ldc,
                  int accumulate) {
  const int16_t* A = static_cast<const int16_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  LB_ROWS(LB_DECL_I)
  for (int64_t g = 0; g < kc / 2; ++g) {
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(B)));
    const __m256i b1 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(B + 16)));
#define LB_MADD(r)                                                   \
  if (r < MR) {                                                      \
    const __m256i av = bcast32(A + 2 * r);                           \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0));  \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1));  \
    LB_PIN(c##r##0);                                                 \
    LB_PIN(c##r##1);                                                 \
  }
    LB_ROWS(LB_MADD)
#undef LB_MADD
    A += 2 * MR;
    B += 2 * kNR;
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// int8 for 7-bit activations (codes 0..127), chosen per call by the driver (KernelDesc::
// narrow).  A: uint8 [kc/4][6][4]; B: int8 [kc/4][16][4].  vpmaddubsw adds two u8 x s8
// products into int16: |sum| <= 2 * 127 * 128 = 32512, so it never saturates for such
// activations (it would for codes >= 128); vpmaddwd with ones widens the two pair sums of
// each column into int32.  32 MACs per two multiplies, no sign extension of B.
template <int MR>
void qu7s8_x16c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc,
                 int accumulate) {
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  LB_ROWS(LB_DECL_I)
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t g = 0; g < kc / 4; ++g) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 32));
#define LB_Q7(r)                                                                           \
  if (r < MR) {                                                                            \
    const __m256i av = bcast32(A + 4 * r);                                                 \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones)); \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones)); \
    LB_PIN(c##r##0);                                                                       \
    LB_PIN(c##r##1);                                                                       \
  }
    LB_ROWS(LB_Q7)
#undef LB_Q7
    A += 4 * MR;
    B += 64;
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// 16-bit accumulation core shared by int4 and 4.6bit.  A: int8 [kc/4][6][4] (signed
// operand); B: uint8 weights [kc/4][16][4] (unsigned operand), either as bytes or as
// nibbles (Elem::kU4: one 64-byte block holds group 2h low and 2h+1 high).
template <int MR, bool kNibbles>
void lowbit_x16c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc,
                   int accumulate) {
  const int8_t* A = static_cast<const int8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  LB_ROWS(LB_DECL_I)
#define LB_STEP(r, b0, b1, Ag)                                            \
  if (r < MR) {                                                           \
    const __m256i av = bcast32(Ag + 4 * r);                               \
    c##r##0 = _mm256_add_epi16(c##r##0, _mm256_maddubs_epi16(b0, av));    \
    c##r##1 = _mm256_add_epi16(c##r##1, _mm256_maddubs_epi16(b1, av));    \
    LB_PIN(c##r##0);                                                      \
    LB_PIN(c##r##1);                                                      \
  }
#define LB_STEP_LO(r) LB_STEP(r, lo0, lo1, A)
#define LB_STEP_HI(r) LB_STEP(r, hi0, hi1, (A + 4 * MR))
  if constexpr (kNibbles) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int64_t h = 0; h < kc / 8; ++h) {
      const __m256i lo0 = _mm256_and_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(B)), low4);
      const __m256i lo1 = _mm256_and_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(B + 32)), low4);
      LB_ROWS(LB_STEP_LO)
      // Load the bytes again for the high nibbles rather than keeping them live: with
      // 2*MR accumulators there is no register to spare (the asm hides the reuse from CSE).
      const uint8_t* Bh = B;
      __asm__("" : "+r"(Bh));
      const __m256i hi0 = _mm256_and_si256(_mm256_srli_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(Bh)), 4), low4);
      const __m256i hi1 = _mm256_and_si256(_mm256_srli_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(Bh + 32)), 4), low4);
      LB_ROWS(LB_STEP_HI)
      A += 8 * MR;
      B += 64;
    }
  } else {
    // Two k-groups per iteration, as in the nibble loop: one group per iteration leaves
    // GCC shuffling the pinned accumulators with register moves (front-end bound).
    int64_t g = 0;
    for (; g + 2 <= kc / 4; g += 2) {
      const __m256i lo0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B));
      const __m256i lo1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 32));
      LB_ROWS(LB_STEP_LO)
      const __m256i hi0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 64));
      const __m256i hi1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 96));
      LB_ROWS(LB_STEP_HI)
      A += 8 * MR;
      B += 128;
    }
    if (g < kc / 4) {
      const __m256i lo0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B));
      const __m256i lo1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 32));
      LB_ROWS(LB_STEP_LO)
    }
  }
#undef LB_STEP_HI
#undef LB_STEP_LO
#undef LB_STEP
  // Flush: each column's two int16 pair-lanes -> one int32 (signed, exact).
  const __m256i ones = _mm256_set1_epi16(1);
#define LB_WIDEN(r)                               \
  if (r < MR) c##r##0 = _mm256_madd_epi16(c##r##0, ones);     \
  if (r < MR) c##r##1 = _mm256_madd_epi16(c##r##1, ones);
  LB_ROWS(LB_WIDEN)
#undef LB_WIDEN
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

int q46_centre(const FormatParams& p) { return -(p.act_levels - 1) / 2; }
int q46_shift(const FormatParams& p) { return (p.weight_levels - 1) / 2; }

#define LB_F32_FN(MR, FN, WIDE, EDGE)                                                            \
  const KernelDesc kF32_##MR = {"f32_gemm_" #MR "x16__avx2", Format::kFp32, "avx2", MR, kNR, 1,   \
                                1, Elem::kF32, Elem::kF32, nullptr, nullptr, 32, 1, false, false,  \
                                96, 256, 3072, FN, nullptr, nullptr, nullptr, 0, WIDE,             \
                                WIDE ? 4 : 0, EDGE};
#define LB_F32(MR) LB_F32_FN(MR, f32_x16<MR>, nullptr, nullptr)
// Each int8 tile carries its 7-bit companion (KernelDesc::narrow), same mr.
#define LB_INT8(MR)                                                                         \
  const KernelDesc kInt8n_##MR = {"qu7s8_gemm_" #MR "x16c4__avx2", Format::kInt8, "avx2", MR,     \
                                  kNR, 4, 4, Elem::kU8, Elem::kS8, nullptr, nullptr, 32, 1, false, \
                                  false, 96, 1024, 3072, qu7s8_x16c4<MR>, nullptr, nullptr};       \
  const KernelDesc kInt8_##MR = {"qu8s8_gemm_" #MR "x16c2__avx2", Format::kInt8, "avx2", MR, kNR,  \
                                 2, 2, Elem::kS16, Elem::kS8, nullptr, nullptr, 32, 1, false,      \
                                 false, 96, 512, 3072, qu8s8_x16c2<MR>, nullptr, nullptr,          \
                                 &kInt8n_##MR, 127};
// int4: activations 0..15 (as the signed operand), weights 0..15 as nibbles.
#define LB_INT4(MR)                                                                          \
  const KernelDesc kInt4_##MR = {"qu4_gemm_" #MR "x16c4__avx2", Format::kInt4, "avx2", MR, kNR,   \
                                 4, 4, Elem::kS8, Elem::kU4, nullptr, nullptr, 16, 2, false, true, \
                                 96, 1024, 3072, lowbit_x16c4<MR, true>, nullptr, nullptr};
// 4.6bit: activations re-centred to [-a, a] (signed operand), weights shifted to [0, 2b]
// (unsigned operand); both offsets are folded into the row/column corrections.
#define LB_Q46(MR)                                                                           \
  const KernelDesc kQ46_##MR = {"q46_gemm_" #MR "x16c4__avx2", Format::kQ46, "avx2", MR, kNR,     \
                                4, 4, Elem::kS8, Elem::kU8, q46_centre, q46_shift, 16, 2, false,   \
                                true, 96, 1024, 3072, lowbit_x16c4<MR, false>, nullptr, nullptr};
// Tiles chosen by measurement on Zen 3 (docs/formats.md): int8 6x16 has no spills;
// the low-bit kernels need two more registers (nibble mask, raw bytes), so 5x16.
// Small-M companions (same packed B, fewer rows) for GEMV-like calls: the driver picks the
// smallest mr >= M (pick_for_m in driver.cpp).
LB_F32(6) LB_F32_FN(1, f32_1x16, f32_row_x16<4>, f32_1x16_edge) LB_F32(2) LB_F32(4)
LB_INT8(6) LB_INT8(1) LB_INT8(2) LB_INT8(4)
LB_INT4(5) LB_INT4(1) LB_INT4(2) LB_INT4(4)
LB_Q46(5) LB_Q46(1) LB_Q46(2) LB_Q46(4)

// The first variant of a format is the one pack_weights uses (the largest tile).
const KernelDesc* const kList[] = {&kF32_6, &kF32_1, &kF32_2, &kF32_4, &kInt8_6, &kInt8_1, &kInt8_2, &kInt8_4,
                                   &kInt4_5, &kInt4_1, &kInt4_2, &kInt4_4, &kQ46_5,
                                   &kQ46_1, &kQ46_2, &kQ46_4};

}  // namespace

const KernelList& kernels_avx2() {
  static const KernelList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
