// `i8mm` tier: ARMv8.6-A int8 matrix multiply (SMMLA / UMMLA / USMMLA).  Compiled with
// -march=armv8.2-a+dotprod+i8mm (the tier also requires dotprod, see registry.cpp).
//
// One MMLA multiplies a 2x8 block of A by an 8x2 block of B into a 2x2 int32 block:
// 32 MACs per instruction, int32 lanes, no flush period (docs/arm.md).  The packed
// layouts with ka = kb = 8 are exactly the MMLA operand blocks: rows 2i, 2i+1 of a k-group
// are 16 consecutive bytes of A, columns 2j, 2j+1 16 consecutive bytes of B.
//  int8   8x8c8 : USMMLA, u8 activations x s8 weights as they are (no offset at all).
//  4.6bit 8x8c8 : SMMLA, activations re-centred to [-a, a].
//  int4   8x8c8 : UMMLA on codes after unpacking the weight nibbles (AND / USHR).
#include "common.h"

namespace lowbit {
namespace {

using arm::store_s32;
using arm::unroll;

enum class Mmla { kUS, kSS, kUU };

template <Mmla kind>
inline __attribute__((always_inline)) int32x4_t mmla(int32x4_t acc, uint8x16_t a, uint8x16_t b) {
  if constexpr (kind == Mmla::kUS) return vusmmlaq_s32(acc, a, vreinterpretq_s8_u8(b));
  if constexpr (kind == Mmla::kSS)
    return vmmlaq_s32(acc, vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b));
  if constexpr (kind == Mmla::kUU)
    return vreinterpretq_s32_u32(vmmlaq_u32(vreinterpretq_u32_s32(acc), a, b));
}

// acc[i][j] holds rows (2i, 2i+1) x columns (2j, 2j+1) as [r0c0 r0c1 r1c0 r1c1]; its 64-bit
// halves are row 2i and row 2i+1, so ZIP1/ZIP2 on doublewords rebuild four-column rows.
template <int P>  // row pairs
inline LOWBIT_AI void store_tile(const int32x4_t (&acc)[P][4], int32_t* C, int64_t ldc,
                                 int accumulate) {
  const int32x4_t keep = arm::keep_mask(accumulate);
  unroll<0, 2 * P>([&](auto ii) LOWBIT_AI {
    constexpr int i = decltype(ii)::value / 2, jj = decltype(ii)::value % 2;
    const int64x2_t lo = vreinterpretq_s64_s32(acc[i][2 * jj]);
    const int64x2_t hi = vreinterpretq_s64_s32(acc[i][2 * jj + 1]);
    store_s32(C + (2 * i) * ldc + 4 * jj, vreinterpretq_s32_s64(vzip1q_s64(lo, hi)), keep);
    store_s32(C + (2 * i + 1) * ldc + 4 * jj, vreinterpretq_s32_s64(vzip2q_s64(lo, hi)), keep);
  });
}

template <Mmla kind, int P>
inline LOWBIT_AI void mmla_group(int32x4_t (&acc)[P][4], const uint8_t* A,
                                 const uint8x16_t (&bv)[4]) {
  uint8x16_t av[P];
  unroll<0, P>([&](auto i) LOWBIT_AI { av[i] = vld1q_u8(A + 16 * i); });
  unroll<0, 4 * P>([&](auto ij) LOWBIT_AI {
    acc[ij / 4][ij % 4] = mmla<kind>(acc[ij / 4][ij % 4], av[ij / 4], bv[ij % 4]);
  });
}

// A: [kc/8][MR][8] bytes; B: [kc/8][8][8] bytes.  MR = 8 main tile; 4, 2 companions (MMLA
// works on row pairs, so a GEMV runs the 2-row tile).
template <Mmla kind, int MR>
void mmla_x8c8(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr int P = MR / 2;
  constexpr bool kUS = kind == Mmla::kUS && MR == 8, kSS = kind == Mmla::kSS && MR == 8;
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  int32x4_t acc[P][4];
  unroll<0, 4 * P>([&](auto i) LOWBIT_AI { acc[i / 4][i % 4] = vdupq_n_s32(0); });
  for (int64_t g = 0; g < kc / 8; ++g) {
    LOWBIT_MCA_BEGIN_IF(kUS, qu8s8_gemm_8x8c8__i8mm);
    LOWBIT_MCA_BEGIN_IF(kSS, q46_gemm_8x8c8__i8mm);
    const uint8x16_t bv[4] = {vld1q_u8(B), vld1q_u8(B + 16), vld1q_u8(B + 32), vld1q_u8(B + 48)};
    mmla_group<kind, P>(acc, A, bv);
    A += 8 * MR;
    B += 64;
    LOWBIT_MCA_END_IF(kUS, qu8s8_gemm_8x8c8__i8mm);
    LOWBIT_MCA_END_IF(kSS, q46_gemm_8x8c8__i8mm);
  }
  LOWBIT_MCA_BEGIN_IF(kUS, qu8s8_gemm_8x8c8__i8mm/epilogue);
  LOWBIT_MCA_BEGIN_IF(kSS, q46_gemm_8x8c8__i8mm/epilogue);
  store_tile<P>(acc, static_cast<int32_t*>(c), ldc, accumulate);
  LOWBIT_MCA_END_IF(kUS, qu8s8_gemm_8x8c8__i8mm/epilogue);
  LOWBIT_MCA_END_IF(kSS, q46_gemm_8x8c8__i8mm/epilogue);
}

// int4: A uint8 codes [kc/8][8][8]; B Elem::kU4, block h of 64 bytes = 8 columns x 8 k,
// low nibbles group 2h, high nibbles group 2h+1.
template <int MR>  // 8 (main tile), 4, 2
void qu4_x8c8(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr int P = MR / 2;
  constexpr bool kMain = MR == 8;
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  int32x4_t acc[P][4];
  unroll<0, 4 * P>([&](auto i) LOWBIT_AI { acc[i / 4][i % 4] = vdupq_n_s32(0); });
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  for (int64_t h = 0; h < kc / 16; ++h) {
    LOWBIT_MCA_BEGIN_IF(kMain, qu4_gemm_8x8c8__i8mm);
    const uint8x16_t q[4] = {vld1q_u8(B), vld1q_u8(B + 16), vld1q_u8(B + 32), vld1q_u8(B + 48)};
    const uint8x16_t lo[4] = {vandq_u8(q[0], low4), vandq_u8(q[1], low4), vandq_u8(q[2], low4),
                              vandq_u8(q[3], low4)};
    mmla_group<Mmla::kUU, P>(acc, A, lo);
    const uint8x16_t hi[4] = {vshrq_n_u8(q[0], 4), vshrq_n_u8(q[1], 4), vshrq_n_u8(q[2], 4),
                              vshrq_n_u8(q[3], 4)};
    mmla_group<Mmla::kUU, P>(acc, A + 8 * MR, hi);
    A += 16 * MR;
    B += 64;
    LOWBIT_MCA_END_IF(kMain, qu4_gemm_8x8c8__i8mm);
  }
  LOWBIT_MCA_BEGIN_IF(kMain, qu4_gemm_8x8c8__i8mm/epilogue);
  store_tile<P>(acc, static_cast<int32_t*>(c), ldc, accumulate);
  LOWBIT_MCA_END_IF(kMain, qu4_gemm_8x8c8__i8mm/epilogue);
}


// First descriptor of a format: main tile; the rest: its small-M tiles (one family, kList).
#define LB_INT8(MR)                                                                 \
  constexpr KernelDesc kInt8_##MR = KernelDesc::acc32(                              \
      "qu8s8_gemm_" #MR "x8c8__i8mm", Format::kInt8, "i8mm", {MR, 8, 8, 8}, Elem::kU8, \
      Elem::kS8, {96, 512, 3072}, mmla_x8c8<Mmla::kUS, MR>);
LB_INT8(8) LB_INT8(4) LB_INT8(2)
#define LB_INT4(MR)                                                                 \
  constexpr KernelDesc kInt4_##MR = KernelDesc::acc32(                              \
      "qu4_gemm_" #MR "x8c8__i8mm", Format::kInt4, "i8mm", {MR, 8, 8, 8}, Elem::kU8,  \
      Elem::kU4, {96, 512, 3072}, qu4_x8c8<MR>);
LB_INT4(8) LB_INT4(4) LB_INT4(2)
#define LB_Q46(MR)                                                                  \
  constexpr KernelDesc kQ46_##MR =                                                  \
      KernelDesc::acc32("q46_gemm_" #MR "x8c8__i8mm", Format::kQ46, "i8mm",         \
                        {MR, 8, 8, 8}, Elem::kS8, Elem::kS8, {96, 512, 3072},       \
                        mmla_x8c8<Mmla::kSS, MR>)                                   \
          .with_offsets(q46_centre);
LB_Q46(8) LB_Q46(4) LB_Q46(2)

constexpr KernelFamily kList[] = {
    {&kInt8_8, &kInt8_4, &kInt8_2},
    {&kInt4_8, &kInt4_4, &kInt4_2},
    {&kQ46_8, &kQ46_4, &kQ46_2},
};

}  // namespace

const FamilyList& kernels_i8mm() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
