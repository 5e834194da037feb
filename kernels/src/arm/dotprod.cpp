// `dotprod` tier: ARMv8.2-A dot product (SDOT/UDOT).  Compiled with -march=armv8.2-a+dotprod.
//
// SDOT/UDOT add 4 byte products into each int32 lane: 16 MACs per instruction, no 16-bit
// stage, so no flush period (docs/arm.md).
//  int8   8x12c4 : SDOT by element; activations made signed with a_offset = -128
//                  (products <= 128*128, four per lane: no int32 overflow per step).
//  4.6bit 8x12c4 : the same micro-kernel; activations re-centred to [-a, a].
//  int4   8x8c4  : UDOT on codes 0..15 after unpacking the weight nibbles (AND / USHR):
//                  the nibble unpacking makes it slightly slower than int8 here, it is
//                  offered for the halved weight memory, not for arithmetic speed.
#include "common.h"

namespace lowbit {
namespace {

using arm::store_s32;
using arm::unroll;

// Rows r of a k-group are 4-byte lanes of the A vectors: vector r/4, lane r%4.
constexpr int a_bytes(int mr) { return mr >= 4 ? 16 : 4 * mr; }

// A: int8 [kc/4][MR][4]; B: int8 [kc/4][12][4].  MR = 8 main tile; 4, 2, 1 companions.
template <int MR>
void qs8_x12c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr bool kMain = MR == 8;
  constexpr int kQ = (MR + 3) / 4;
  const int8_t* A = static_cast<const int8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  int32x4_t acc[MR][3];
  unroll<0, 3 * MR>([&](auto i) LOWBIT_AI { acc[i / 3][i % 3] = vdupq_n_s32(0); });
  for (int64_t g = 0; g < kc / 4; ++g) {
    LOWBIT_MCA_BEGIN_IF(kMain, qs8_gemm_8x12c4__dotprod);
    int8x16_t av[kQ];
    unroll<0, kQ>([&](auto q) LOWBIT_AI { av[q] = arm::load_bytes_s8<a_bytes(MR)>(A + 16 * q); });
    const int8x16_t bv[3] = {vld1q_s8(B), vld1q_s8(B + 16), vld1q_s8(B + 32)};
    unroll<0, 3 * MR>([&](auto i) LOWBIT_AI {
      constexpr int r = decltype(i)::value / 3, j = decltype(i)::value % 3;
      acc[r][j] = vdotq_laneq_s32(acc[r][j], bv[j], av[r / 4], r % 4);
    });
    A += 4 * MR;
    B += 48;
    LOWBIT_MCA_END_IF(kMain, qs8_gemm_8x12c4__dotprod);
  }
  int32_t* C = static_cast<int32_t*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN_IF(kMain, qs8_gemm_8x12c4__dotprod/epilogue);
  unroll<0, 3 * MR>([&](auto i) LOWBIT_AI {
    store_s32(C + (i / 3) * ldc + 4 * (i % 3), acc[i / 3][i % 3], keep);
  });
  LOWBIT_MCA_END_IF(kMain, qs8_gemm_8x12c4__dotprod/epilogue);
}

// A: uint8 codes [kc/4][8][4]; B: Elem::kU4, block h of 32 bytes = 8 columns x 4 k,
// low nibbles group 2h, high nibbles group 2h+1.
template <int MR>  // 8 (main tile), 4, 2, 1
void qu4_x8c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr bool kMain = MR == 8;
  constexpr int kQ = (MR + 3) / 4;
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  uint32x4_t acc[MR][2];
  unroll<0, 2 * MR>([&](auto i) LOWBIT_AI { acc[i / 2][i % 2] = vdupq_n_u32(0); });
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  auto step = [&](const uint8_t* Ag, uint8x16_t b0, uint8x16_t b1) LOWBIT_AI {
    uint8x16_t av[kQ];
    unroll<0, kQ>([&](auto q) LOWBIT_AI { av[q] = arm::load_bytes<a_bytes(MR)>(Ag + 16 * q); });
    unroll<0, 2 * MR>([&](auto i) LOWBIT_AI {
      constexpr int r = decltype(i)::value / 2, j = decltype(i)::value % 2;
      acc[r][j] = vdotq_laneq_u32(acc[r][j], j ? b1 : b0, av[r / 4], r % 4);
    });
  };
  for (int64_t h = 0; h < kc / 8; ++h) {
    LOWBIT_MCA_BEGIN_IF(kMain, qu4_gemm_8x8c4__dotprod);
    const uint8x16_t q0 = vld1q_u8(B), q1 = vld1q_u8(B + 16);
    step(A, vandq_u8(q0, low4), vandq_u8(q1, low4));
    step(A + 4 * MR, vshrq_n_u8(q0, 4), vshrq_n_u8(q1, 4));
    A += 8 * MR;
    B += 32;
    LOWBIT_MCA_END_IF(kMain, qu4_gemm_8x8c4__dotprod);
  }
  int32_t* C = static_cast<int32_t*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN_IF(kMain, qu4_gemm_8x8c4__dotprod/epilogue);
  unroll<0, 2 * MR>([&](auto i) LOWBIT_AI {
    store_s32(C + (i / 2) * ldc + 4 * (i % 2), vreinterpretq_s32_u32(acc[i / 2][i % 2]), keep);
  });
  LOWBIT_MCA_END_IF(kMain, qu4_gemm_8x8c4__dotprod/epilogue);
}

int int8_to_signed(const FormatParams&) { return -128; }

// First descriptor of a format: main tile; the rest: its small-M tiles (one family, kList).
#define LB_INT8(MR)                                                                          \
constexpr KernelDesc kInt8_##MR =                                                            \
    KernelDesc::acc32("qu8s8_gemm_" #MR "x12c4__dotprod", Format::kInt8, "dotprod",          \
                      {MR, 12, 4, 4}, Elem::kS8, Elem::kS8, {96, 512, 3072}, qs8_x12c4<MR>)  \
        .with_offsets(int8_to_signed);
LB_INT8(8) LB_INT8(4) LB_INT8(2) LB_INT8(1)
#define LB_INT4(MR)                                                                         \
constexpr KernelDesc kInt4_##MR =                                                           \
    KernelDesc::acc32("qu4_gemm_" #MR "x8c4__dotprod", Format::kInt4, "dotprod",            \
                      {MR, 8, 4, 4}, Elem::kU8, Elem::kU4, {96, 512, 3072}, qu4_x8c4<MR>);
LB_INT4(8) LB_INT4(4) LB_INT4(2) LB_INT4(1)
#define LB_Q46(MR)                                                                           \
constexpr KernelDesc kQ46_##MR =                                                             \
    KernelDesc::acc32("q46_gemm_" #MR "x12c4__dotprod", Format::kQ46, "dotprod",             \
                      {MR, 12, 4, 4}, Elem::kS8, Elem::kS8, {96, 512, 3072}, qs8_x12c4<MR>)  \
        .with_offsets(q46_centre);
LB_Q46(8) LB_Q46(4) LB_Q46(2) LB_Q46(1)

constexpr KernelFamily kList[] = {
    {&kInt8_8, &kInt8_4, &kInt8_2, &kInt8_1},
    {&kInt4_8, &kInt4_4, &kInt4_2, &kInt4_1},
    {&kQ46_8, &kQ46_4, &kQ46_2, &kQ46_1},
};

}  // namespace

const FamilyList& kernels_dotprod() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
