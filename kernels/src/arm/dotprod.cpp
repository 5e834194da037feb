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

// A: int8 [kc/4][8][4]; B: int8 [kc/4][12][4].
void qs8_8x12c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  const int8_t* A = static_cast<const int8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  int32x4_t acc[8][3];
  unroll<0, 24>([&](auto i) LOWBIT_AI { acc[i / 3][i % 3] = vdupq_n_s32(0); });
  for (int64_t g = 0; g < kc / 4; ++g) {
    LOWBIT_MCA_BEGIN(qs8_gemm_8x12c4__dotprod);
    const int8x16_t a0 = vld1q_s8(A), a1 = vld1q_s8(A + 16);
    const int8x16_t bv[3] = {vld1q_s8(B), vld1q_s8(B + 16), vld1q_s8(B + 32)};
    unroll<0, 12>([&](auto i) LOWBIT_AI {
      constexpr int r = decltype(i)::value / 3, j = decltype(i)::value % 3;
      acc[r][j] = vdotq_laneq_s32(acc[r][j], bv[j], a0, r);
      acc[r + 4][j] = vdotq_laneq_s32(acc[r + 4][j], bv[j], a1, r);
    });
    A += 32;
    B += 48;
    LOWBIT_MCA_END(qs8_gemm_8x12c4__dotprod);
  }
  int32_t* C = static_cast<int32_t*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN(qs8_gemm_8x12c4__dotprod/epilogue);
  unroll<0, 24>([&](auto i) LOWBIT_AI {
    store_s32(C + (i / 3) * ldc + 4 * (i % 3), acc[i / 3][i % 3], keep);
  });
  LOWBIT_MCA_END(qs8_gemm_8x12c4__dotprod/epilogue);
}

// A: uint8 codes [kc/4][8][4]; B: Elem::kU4, block h of 32 bytes = 8 columns x 4 k,
// low nibbles group 2h, high nibbles group 2h+1.
void qu4_8x8c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  uint32x4_t acc[8][2];
  unroll<0, 16>([&](auto i) LOWBIT_AI { acc[i / 2][i % 2] = vdupq_n_u32(0); });
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  auto step = [&](const uint8_t* Ag, uint8x16_t b0, uint8x16_t b1) LOWBIT_AI {
    const uint8x16_t a0 = vld1q_u8(Ag), a1 = vld1q_u8(Ag + 16);
    unroll<0, 4>([&](auto rr) LOWBIT_AI {
      constexpr int r = decltype(rr)::value;
      acc[r][0] = vdotq_laneq_u32(acc[r][0], b0, a0, r);
      acc[r][1] = vdotq_laneq_u32(acc[r][1], b1, a0, r);
      acc[r + 4][0] = vdotq_laneq_u32(acc[r + 4][0], b0, a1, r);
      acc[r + 4][1] = vdotq_laneq_u32(acc[r + 4][1], b1, a1, r);
    });
  };
  for (int64_t h = 0; h < kc / 8; ++h) {
    LOWBIT_MCA_BEGIN(qu4_gemm_8x8c4__dotprod);
    const uint8x16_t q0 = vld1q_u8(B), q1 = vld1q_u8(B + 16);
    step(A, vandq_u8(q0, low4), vandq_u8(q1, low4));
    step(A + 32, vshrq_n_u8(q0, 4), vshrq_n_u8(q1, 4));
    A += 64;
    B += 32;
    LOWBIT_MCA_END(qu4_gemm_8x8c4__dotprod);
  }
  int32_t* C = static_cast<int32_t*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN(qu4_gemm_8x8c4__dotprod/epilogue);
  unroll<0, 16>([&](auto i) LOWBIT_AI {
    store_s32(C + (i / 2) * ldc + 4 * (i % 2), vreinterpretq_s32_u32(acc[i / 2][i % 2]), keep);
  });
  LOWBIT_MCA_END(qu4_gemm_8x8c4__dotprod/epilogue);
}

int int8_to_signed(const FormatParams&) { return -128; }
int q46_centre(const FormatParams& p) { return -(p.act_levels - 1) / 2; }

const KernelDesc kInt8 = {"qu8s8_gemm_8x12c4__dotprod", Format::kInt8, "dotprod", 8, 12, 4, 4,
                          Elem::kS8, Elem::kS8, int8_to_signed, nullptr, 32, 4, false, false,
                          96, 512, 3072, qs8_8x12c4, nullptr, nullptr};
const KernelDesc kInt4 = {"qu4_gemm_8x8c4__dotprod", Format::kInt4, "dotprod", 8, 8, 4, 4,
                          Elem::kU8, Elem::kU4, nullptr, nullptr, 32, 4, false, false,
                          96, 512, 3072, qu4_8x8c4, nullptr, nullptr};
const KernelDesc kQ46 = {"q46_gemm_8x12c4__dotprod", Format::kQ46, "dotprod", 8, 12, 4, 4,
                         Elem::kS8, Elem::kS8, q46_centre, nullptr, 32, 4, false, false,
                         96, 512, 3072, qs8_8x12c4, nullptr, nullptr};

const KernelDesc* const kList[] = {&kInt8, &kInt4, &kQ46};

}  // namespace

const KernelList& kernels_dotprod() {
  static const KernelList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
