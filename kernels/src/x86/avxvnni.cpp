// `avxvnni` tier (AVX2 + FMA + AVX-VNNI, the VEX-encoded vpdpbusd: Alder Lake, Meteor Lake,
// Arrow Lake, Sierra Forest: VNNI without AVX-512).  Compiled with -mavx2 -mfma -mavxvnni
// only.  The kernels are avx512vnni.cpp's in ymm registers (16 of them, 16 columns).
//
// vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds the four products into an
// int32 lane without saturation (never vpdpbusds, which saturates): 32 exact MACs per ymm
// instruction, no separate add.  With it, int8 is as cheap per MAC as any low-bit scheme:
// the 16-bit accumulation of the papers (vpmaddubsw + vpaddw, 2 instructions per 32 MACs,
// avx2.cpp) has no compute advantage left over one vpdpbusd per 32 MACs, so the low-bit
// formats use vpdpbusd too, with 32-bit accumulators and no flush; what int4 keeps is its
// memory advantage (nibble weights, unpacked in registers).  docs/formats.md.
//
//  int8 / 4.6bit 6x16c4 : A u8 [kc/4][6][4] broadcast as 32 bits, B s8 [kc/4][16][4];
//      2 x 6 vpdpbusd per k-group, 12 ymm accumulators.  4.6bit needs no re-centring here:
//      activation codes 0..2a are the unsigned operand, weights [-b, b] the signed one.
//  int4 5x16c4 : B nibbles (0..15) unpacked in registers are the unsigned operand, the
//      activation codes 0..15 the signed one; 5 rows because the nibble mask and the raw
//      and unpacked weight vectors take 5 of the 16 registers (as in avx2.cpp).
#include "simd_x86.h"

#include "../internal.h"

namespace lowbit {
namespace {

constexpr int kNR = 16;

#define LB_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

inline void store_i32(int32_t* row, __m256i v0, __m256i v1, int accumulate) {
  if (accumulate) {
    v0 = _mm256_add_epi32(v0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)));
    v1 = _mm256_add_epi32(v1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 8)));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), v0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + 8), v1);
}

#define LB_DECL_I(r) __m256i c##r##0 = _mm256_setzero_si256(), c##r##1 = _mm256_setzero_si256();
#define LB_STORE_I(r) \
  if (r < MR) store_i32(C + r * ldc, c##r##0, c##r##1, accumulate);

// A: uint8 [kc/4][MR][4]; B: int8 [kc/4][16][4] (64 bytes a group).
template <int MR>
void u8s8_x16c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= 6, "LB_ROWS spells out 6 rows");
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  LB_ROWS(LB_DECL_I)
  for (int64_t g = 0; g < kc / 4; ++g) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B + 32));
#define LB_DOT(r)                                                 \
  if (r < MR) {                                                   \
    const __m256i av = _mm256_set1_epi32(x86::load32(A + 4 * r)); \
    c##r##0 = _mm256_dpbusd_avx_epi32(c##r##0, av, b0);           \
    c##r##1 = _mm256_dpbusd_avx_epi32(c##r##1, av, b1);           \
    LB_PIN(c##r##0);                                              \
    LB_PIN(c##r##1);                                              \
  }
    LB_ROWS(LB_DOT)
#undef LB_DOT
    A += 4 * MR;
    B += 4 * kNR;
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// A: int8 [kc/4][MR][4] (codes 0..15); B: nibbles, one 64-byte block per two k-groups
// (group 2h in the low nibbles, 2h+1 in the high ones).
template <int MR>
void u4s8_x16c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= 6, "LB_ROWS spells out 6 rows");
  const int8_t* A = static_cast<const int8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  LB_ROWS(LB_DECL_I)
  const __m256i low4 = _mm256_set1_epi8(0x0F);
#define LB_DOT(r, w0, w1, Ag)                                      \
  if (r < MR) {                                                    \
    const __m256i av = _mm256_set1_epi32(x86::load32(Ag + 4 * r)); \
    c##r##0 = _mm256_dpbusd_avx_epi32(c##r##0, w0, av);            \
    c##r##1 = _mm256_dpbusd_avx_epi32(c##r##1, w1, av);            \
    LB_PIN(c##r##0);                                               \
    LB_PIN(c##r##1);                                               \
  }
#define LB_DOT_LO(r) LB_DOT(r, lo0, lo1, A)
#define LB_DOT_HI(r) LB_DOT(r, hi0, hi1, (A + 4 * MR))
  for (int64_t h = 0; h < kc / 8; ++h) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B + 32));
    const __m256i lo0 = _mm256_and_si256(v0, low4), lo1 = _mm256_and_si256(v1, low4);
    LB_ROWS(LB_DOT_LO)
    const __m256i hi0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), low4);
    const __m256i hi1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), low4);
    LB_ROWS(LB_DOT_HI)
    A += 8 * MR;
    B += 64;
  }
#undef LB_DOT_HI
#undef LB_DOT_LO
#undef LB_DOT
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// Cache blocking not tuned on hardware (none was available to this build).
#define LB_INT8(MR)                                                                                \
  const KernelDesc kInt8_##MR = {"qu8s8_gemm_" #MR "x16c4__avxvnni", Format::kInt8, "avxvnni", MR, \
                                 kNR, 4, 4, Elem::kU8, Elem::kS8, nullptr, nullptr, 32, 4, false,  \
                                 false, 96, 1024, 3072, u8s8_x16c4<MR>, nullptr, nullptr};
#define LB_INT4(MR)                                                                               \
  const KernelDesc kInt4_##MR = {"qu4_gemm_" #MR "x16c4__avxvnni", Format::kInt4, "avxvnni", MR,  \
                                 kNR, 4, 4, Elem::kS8, Elem::kU4, nullptr, nullptr, 32, 4, false, \
                                 false, 95, 1024, 3072, u4s8_x16c4<MR>, nullptr, nullptr};
#define LB_Q46(MR)                                                                               \
  const KernelDesc kQ46_##MR = {"q46_gemm_" #MR "x16c4__avxvnni", Format::kQ46, "avxvnni", MR,   \
                                kNR, 4, 4, Elem::kU8, Elem::kS8, nullptr, nullptr, 32, 4, false, \
                                false, 96, 1024, 3072, u8s8_x16c4<MR>, nullptr, nullptr};
// Small-M companions (same packed B, fewer rows; the driver picks the smallest mr >= M).
LB_INT8(6) LB_INT8(1) LB_INT8(2) LB_INT8(4)
LB_INT4(5) LB_INT4(1) LB_INT4(2) LB_INT4(4)
LB_Q46(6) LB_Q46(1) LB_Q46(2) LB_Q46(4)

// The first variant of a format is the one pack_weights uses (the largest tile).
const KernelDesc* const kList[] = {&kInt8_6, &kInt8_1, &kInt8_2, &kInt8_4,
                                   &kInt4_5, &kInt4_1, &kInt4_2, &kInt4_4,
                                   &kQ46_6,  &kQ46_1,  &kQ46_2,  &kQ46_4};

}  // namespace

const KernelList& kernels_avxvnni() {
  static const KernelList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
