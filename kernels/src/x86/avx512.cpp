// `avx512` tier (AVX-512 F/BW/VL, no VNNI: the Skylake-SP class).  Compiled with
// -mavx2 -mfma -mavx512f -mavx512bw -mavx512vl only.  The kernels are avx2.cpp's, twice as
// wide (zmm, 32 columns) and with twice the registers (32), so twice the rows.
// Instruction sequences, MACs per instruction and flush periods: docs/formats.md.
//
//  f32  12x32   : vfmadd231ps with the A element broadcast; 24 zmm accumulators.
//  int8 12x32c2 : exact u8 x s8 without VNNI: x widened to int16 while packing, weights
//                 kept as bytes and sign-extended in registers (vpmovsxbw), vpmaddwd gives
//                 int32 pair sums that never saturate (2 * 255 * 128 < 2^31), vpaddd
//                 accumulates.  32 MACs per multiply, plus one vpaddd per multiply.
//  int4 / 4.6bit 12x32c4 : vpmaddubsw (unsigned weights x signed activations) adds two
//                 products into an int16 lane, vpaddw keeps summing in int16 up to the flush
//                 period (the driver's KC cap), then one widening per accumulator at the end
//                 of the call.  64 MACs per multiply, one vpaddw per multiply.
//                 int4 reads its lanes as *unsigned* 16-bit sums (every product is >= 0), so
//                 a lane holds 145 steps (580 products; period 576 after rounding to the
//                 nibble block) instead of 72 (288) with signed lanes: the widening is then
//                 a zero-extension (and + shift + add), not vpmaddwd with ones.
//                 4.6bit lanes are signed (centred activations): 64 steps = 256 products.
#include "simd_x86.h"

#include "../internal.h"

namespace lowbit {
namespace {

constexpr int kNR = 32;

// Rows spelled out (see avx2.cpp: named vectors stay in registers, arrays of them spill).
#define LB_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

template <int MR>
void f32_x32(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= 12, "LB_ROWS spells out 12 rows");
  const float* A = static_cast<const float*>(a);
  const float* B = static_cast<const float*>(b);
#define LB_DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
  LB_ROWS(LB_DECL)
#undef LB_DECL
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(B);
    const __m512 b1 = _mm512_loadu_ps(B + 16);
#define LB_FMA(r)                               \
  if (r < MR) {                                 \
    const __m512 av = _mm512_set1_ps(A[r]);     \
    c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0); \
    c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1); \
    LB_PIN(c##r##0);                            \
    LB_PIN(c##r##1);                            \
  }
    LB_ROWS(LB_FMA)
#undef LB_FMA
    A += MR;
    B += kNR;
  }
  float* C = static_cast<float*>(c);
#define LB_STORE(r)                                                \
  if (r < MR) {                                                    \
    float* row = C + r * ldc;                                      \
    if (accumulate) {                                              \
      c##r##0 = _mm512_add_ps(c##r##0, _mm512_loadu_ps(row));      \
      c##r##1 = _mm512_add_ps(c##r##1, _mm512_loadu_ps(row + 16)); \
    }                                                              \
    _mm512_storeu_ps(row, c##r##0);                                \
    _mm512_storeu_ps(row + 16, c##r##1);                           \
  }
  LB_ROWS(LB_STORE)
#undef LB_STORE
}

inline void store_i32(int32_t* row, __m512i v0, __m512i v1, int accumulate) {
  if (accumulate) {
    v0 = _mm512_add_epi32(v0, _mm512_loadu_si512(row));
    v1 = _mm512_add_epi32(v1, _mm512_loadu_si512(row + 16));
  }
  _mm512_storeu_si512(row, v0);
  _mm512_storeu_si512(row + 16, v1);
}

#define LB_DECL_I(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = _mm512_setzero_si512();
#define LB_STORE_I(r) \
  if (r < MR) store_i32(C + r * ldc, c##r##0, c##r##1, accumulate);

// A: int16 [kc/2][MR][2]; B: int8 [kc/2][32][2] (64 bytes a group).
template <int MR>
void qu8s8_x32c2(int64_t kc, const void* a, const void* b, void* c, int64_t ldc,
                 int accumulate) {
  static_assert(MR >= 1 && MR <= 12, "LB_ROWS spells out 12 rows");
  const int16_t* A = static_cast<const int16_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  LB_ROWS(LB_DECL_I)
  for (int64_t g = 0; g < kc / 2; ++g) {
    const __m512i b0 =
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(B)));
    const __m512i b1 =
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(B + 32)));
#define LB_MADD(r)                                                  \
  if (r < MR) {                                                     \
    const __m512i av = _mm512_set1_epi32(x86::load32(A + 2 * r));   \
    c##r##0 = _mm512_add_epi32(c##r##0, _mm512_madd_epi16(av, b0)); \
    c##r##1 = _mm512_add_epi32(c##r##1, _mm512_madd_epi16(av, b1)); \
    LB_PIN(c##r##0);                                                \
    LB_PIN(c##r##1);                                                \
  }
    LB_ROWS(LB_MADD)
#undef LB_MADD
    A += 2 * MR;
    B += 2 * kNR;
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// 16-bit accumulation core shared by int4 and 4.6bit.  A: int8 [kc/4][MR][4] (the signed
// operand of vpmaddubsw); B: uint8 weights [kc/4][32][4] (the unsigned operand), as bytes
// or as nibbles (Elem::kU4: one 128-byte block holds group 2h low and 2h+1 high).
// kUnsignedLanes: the int16 lanes hold unsigned sums (docs/formats.md, int4).
template <int MR, bool kNibbles, bool kUnsignedLanes>
void lowbit_x32c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc,
                  int accumulate) {
  static_assert(MR >= 1 && MR <= 12, "LB_ROWS spells out 12 rows");
  const int8_t* A = static_cast<const int8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  LB_ROWS(LB_DECL_I)
#define LB_STEP(r, b0, b1, Ag)                                         \
  if (r < MR) {                                                        \
    LB_ROW_FENCE();                                                    \
    const __m512i av = _mm512_set1_epi32(x86::load32(Ag + 4 * r));     \
    c##r##0 = _mm512_add_epi16(c##r##0, _mm512_maddubs_epi16(b0, av)); \
    c##r##1 = _mm512_add_epi16(c##r##1, _mm512_maddubs_epi16(b1, av)); \
    LB_PIN(c##r##0);                                                   \
    LB_PIN(c##r##1);                                                   \
  }
#define LB_STEP_LO(r) LB_STEP(r, lo0, lo1, A)
#define LB_STEP_HI(r) LB_STEP(r, hi0, hi1, (A + 4 * MR))
  if constexpr (kNibbles) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (int64_t h = 0; h < kc / 8; ++h) {
      const __m512i v0 = _mm512_loadu_si512(B);
      const __m512i v1 = _mm512_loadu_si512(B + 64);
      const __m512i lo0 = _mm512_and_si512(v0, low4), lo1 = _mm512_and_si512(v1, low4);
      LB_ROWS(LB_STEP_LO)
      const __m512i hi0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), low4);
      const __m512i hi1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), low4);
      LB_ROWS(LB_STEP_HI)
      A += 8 * MR;
      B += 128;
    }
  } else {
    for (int64_t g = 0; g < kc / 4; ++g) {
      const __m512i lo0 = _mm512_loadu_si512(B);
      const __m512i lo1 = _mm512_loadu_si512(B + 64);
      LB_ROWS(LB_STEP_LO)
      A += 4 * MR;
      B += 128;
    }
  }
#undef LB_STEP_HI
#undef LB_STEP_LO
#undef LB_STEP
  // Flush: each column's two int16 pair-lanes (one 32-bit lane) -> one int32, exactly.
  if constexpr (kUnsignedLanes) {
    const __m512i low16 = _mm512_set1_epi32(0xFFFF);
#define LB_WIDEN(r)                                                                               \
  if (r < MR) {                                                                                   \
    c##r##0 = _mm512_add_epi32(_mm512_and_si512(c##r##0, low16), _mm512_srli_epi32(c##r##0, 16)); \
    c##r##1 = _mm512_add_epi32(_mm512_and_si512(c##r##1, low16), _mm512_srli_epi32(c##r##1, 16)); \
  }
    LB_ROWS(LB_WIDEN)
#undef LB_WIDEN
  } else {
    const __m512i ones = _mm512_set1_epi16(1);
#define LB_WIDEN(r)                             \
  if (r < MR) {                                 \
    c##r##0 = _mm512_madd_epi16(c##r##0, ones); \
    c##r##1 = _mm512_madd_epi16(c##r##1, ones); \
  }
    LB_ROWS(LB_WIDEN)
#undef LB_WIDEN
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

int q46_centre(const FormatParams& p) { return -(p.act_levels - 1) / 2; }
int q46_shift(const FormatParams& p) { return (p.weight_levels - 1) / 2; }

// Cache blocking (mc, kc, nc) is sized for a 48 KiB L1d / 1-2 MiB L2 (Ice Lake-SP,
// Sapphire Rapids) and not tuned on hardware: none was available to this build.
#define LB_F32(MR)                                                                               \
  const KernelDesc kF32_##MR = {"f32_gemm_" #MR "x32__avx512", Format::kFp32, "avx512", MR, kNR, \
                                1, 1, Elem::kF32, Elem::kF32, nullptr, nullptr, 32, 1, false,    \
                                false, 192, 256, 3072, f32_x32<MR>, nullptr, nullptr};
#define LB_INT8(MR)                                                                                \
  const KernelDesc kInt8_##MR = {"qu8s8_gemm_" #MR "x32c2__avx512", Format::kInt8, "avx512", MR,   \
                                 kNR, 2, 2, Elem::kS16, Elem::kS8, nullptr, nullptr, 32, 1, false, \
                                 false, 192, 512, 3072, qu8s8_x32c2<MR>, nullptr, nullptr};
// int4: activations 0..15 (the signed operand), weights 0..15 as nibbles; unsigned lanes.
#define LB_INT4(MR)                                                                              \
  const KernelDesc kInt4_##MR = {"qu4_gemm_" #MR "x32c4__avx512", Format::kInt4, "avx512", MR,   \
                                 kNR, 4, 4, Elem::kS8, Elem::kU4, nullptr, nullptr, 16, 2, true, \
                                 true, 192, 1024, 3072, lowbit_x32c4<MR, true, true>, nullptr,   \
                                 nullptr};
// 4.6bit: activations re-centred to [-a, a] (signed operand), weights shifted to [0, 2b]
// (unsigned operand); both offsets are folded into the row/column corrections.
#define LB_Q46(MR)                                                                                \
  const KernelDesc kQ46_##MR = {"q46_gemm_" #MR "x32c4__avx512", Format::kQ46, "avx512", MR, kNR, \
                                4, 4, Elem::kS8, Elem::kU8, q46_centre, q46_shift, 16, 2, false,  \
                                true, 192, 1024, 3072, lowbit_x32c4<MR, false, false>, nullptr,   \
                                nullptr};
// 12 rows: 24 accumulators + B vectors + broadcast (+ nibble mask and halves) fit the 32 zmm
// registers without a spill (kernels/tests_native/x86/loop_report.py).  Small-M companions
// (same packed B, fewer rows; the driver picks the smallest mr >= M) for GEMV-like calls.
LB_F32(12) LB_F32(1) LB_F32(2) LB_F32(4) LB_F32(8)
LB_INT8(12) LB_INT8(1) LB_INT8(2) LB_INT8(4) LB_INT8(8)
LB_INT4(12) LB_INT4(1) LB_INT4(2) LB_INT4(4) LB_INT4(8)
LB_Q46(12) LB_Q46(1) LB_Q46(2) LB_Q46(4) LB_Q46(8)

// The first variant of a format is the one pack_weights uses (the largest tile).
const KernelDesc* const kList[] = {
    &kF32_12,  &kF32_1,  &kF32_2,  &kF32_4,  &kF32_8,  &kInt8_12, &kInt8_1, &kInt8_2, &kInt8_4,
    &kInt8_8,  &kInt4_12, &kInt4_1, &kInt4_2, &kInt4_4, &kInt4_8,  &kQ46_12, &kQ46_1,  &kQ46_2,
    &kQ46_4,   &kQ46_8};

}  // namespace

const KernelList& kernels_avx512() {
  static const KernelList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
