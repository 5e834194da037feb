// `neon` tier: base ARMv8-A Advanced SIMD only.  Compiled with -march=armv8-a.
//
// The instruction sequences, MACs per instruction, flush periods and the proofs that no
// lane overflows are in docs/arm.md; the comments here say only what the code cannot.
//
//  f32   8x12    : FMLA by element, 24 accumulators, 4 MACs per instruction.
//  int8  4x16c2  : SMULL + SMLSL pair two k into int16, SADALP widens every pair into int32
//                  (the 32-bit step every 2 products of the papers' 8-bit baseline).
//  int4  8x16c2  : MUL .16b (16 byte products, each <= 225) + UADALP into uint16 lanes;
//                  widened into the int32 C tile once per call (kc <= flush period).
//  4.6bit 8x16c2 : MUL .16b (|product| <= 127 fits a signed byte) + SADALP into int16 lanes;
//                  same once-per-call widening.
#include "common.h"

// GCC's pre-register-allocation scheduler hoists the 8-16 DUPs of an iteration ahead of
// their multiplies and then spills accumulators to the stack (seen with GCC 12: 7-9 stack
// accesses per iteration of the byte-multiply loops, none without it).  Turned off for
// this translation unit only; the cycle model compiles the same source.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

namespace lowbit {
namespace {

using arm::dup_pair;
using arm::store_f32;
using arm::store_s32;
using arm::unroll;

// ---- fp32 ----------------------------------------------------------------------------
// A: float [kc][MR]; B: float [kc][12].  MR = 8 is the main tile, 4, 2, 1 its small-M
// companions (same packed B).
template <int MR>
inline LOWBIT_AI float32x4_t load_a_f32(const float* A, int q) {
  if constexpr (MR >= 4) return vld1q_f32(A + 4 * q);
  if constexpr (MR == 2) return vcombine_f32(vld1_f32(A), vdup_n_f32(0.f));
  return vld1q_dup_f32(A);
}

template <int MR>
void f32_x12(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr bool kMain = MR == 8;
  constexpr int kQ = (MR + 3) / 4;  // A vectors per k
  const float* A = static_cast<const float*>(a);
  const float* B = static_cast<const float*>(b);
  float32x4_t acc[MR][3];
  unroll<0, 3 * MR>([&](auto i) LOWBIT_AI { acc[i / 3][i % 3] = vdupq_n_f32(0.f); });
  for (int64_t k = 0; k < kc; ++k) {
    LOWBIT_MCA_BEGIN_IF(kMain, f32_gemm_8x12__neon);
    float32x4_t av[kQ];
    unroll<0, kQ>([&](auto q) LOWBIT_AI { av[q] = load_a_f32<MR>(A, q); });
    const float32x4_t bv[3] = {vld1q_f32(B), vld1q_f32(B + 4), vld1q_f32(B + 8)};
    unroll<0, 3 * MR>([&](auto i) LOWBIT_AI {
      constexpr int r = decltype(i)::value / 3, j = decltype(i)::value % 3;
      acc[r][j] = vfmaq_laneq_f32(acc[r][j], bv[j], av[r / 4], r % 4);
    });
    A += MR;
    B += 12;
    LOWBIT_MCA_END_IF(kMain, f32_gemm_8x12__neon);
  }
  float* C = static_cast<float*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN_IF(kMain, f32_gemm_8x12__neon/epilogue);
  unroll<0, 3 * MR>([&](auto i) LOWBIT_AI {
    store_f32(C + (i / 3) * ldc + 4 * (i % 3), acc[i / 3][i % 3], keep);
  });
  LOWBIT_MCA_END_IF(kMain, f32_gemm_8x12__neon/epilogue);
}

// ---- int8 ----------------------------------------------------------------------------
// A: int8 [kc/4][4][4], stored x - 128 (a_offset); B: int8 [kc/2][16][2].
//
// One 4-k step pairs group g (k0,k1) with group g+1 (k2,k3) in one int16 lane per column:
//   t = a(k0..1) * b(g)  -  a(k2..3) * ~b(g+1)   =  sum of the 4 products + a(k2) + a(k3)
// because ~b = -b - 1.  The plain SMULL + SMLAL2 pairing would overflow int16 at one point
// of the full int8 range ((-128)(-128) twice = 32768); with the complemented weight the
// second product lies in [-16384, 16256] and t in [-32640, 32640].  The extra a(k2)+a(k3)
// per row is summed on the side (SADALP of A itself) and subtracted at the end.
constexpr int64_t kCorrChunk = 127;  // steps before the int16 row-sum side lanes widen (127 * 256 <= 32767)

template <int MR>  // 4 (main tile), 2, 1
void qu8s8_x16(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr bool kMain = MR == 4;
  constexpr int kU = 4 * MR;  // units of (row, 4 columns)
  const int8_t* A = static_cast<const int8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  int32x4_t acc[MR][4];
  unroll<0, kU>([&](auto i) LOWBIT_AI { acc[i / 4][i % 4] = vdupq_n_s32(0); });
  int32x4_t corr = vdupq_n_s32(0);
  for (int64_t steps = kc / 4; steps > 0;) {
    const int64_t chunk = steps < kCorrChunk ? steps : kCorrChunk;
    int16x8_t corr16 = vdupq_n_s16(0);
    for (int64_t s = 0; s < chunk; ++s) {
      LOWBIT_MCA_BEGIN_IF(kMain, qu8s8_gemm_4x16c2__neon);
      const int8x16_t av = arm::opaque(arm::load_bytes_s8<4 * MR>(A));
      const int8x16_t b0 = vld1q_s8(B), b1 = vld1q_s8(B + 16);
      const int8x16_t n2 = vmvnq_s8(vld1q_s8(B + 32)), n3 = vmvnq_s8(vld1q_s8(B + 48));
      corr16 = vpadalq_s8(corr16, av);  // odd lanes: a(k2) + a(k3) of each row
      // 16 units (row r, 4 columns j), software-pipelined in source order so that in-order
      // cores (A53/A55) find independent work between a multiply and its consumer:
      // unit u does SMULL, unit u-2 its SMLSL, unit u-4 its SADALP.
      int8x16_t a1[MR], a2[MR];
      int16x8_t t[kU];
      unroll<0, kU + 4>([&](auto uu) LOWBIT_AI {
        constexpr int u = decltype(uu)::value;
        if constexpr (u < kU) {
          constexpr int r = u / 4, j = u % 4;
          if constexpr (j == 0) {
            a1[r] = dup_pair<2 * r>(av);
            a2[r] = dup_pair<2 * r + 1>(av);
          }
          const int8x16_t bj = j < 2 ? b0 : b1;
          t[u] = j % 2 == 0 ? vmull_s8(vget_low_s8(a1[r]), vget_low_s8(bj))
                            : vmull_high_s8(a1[r], bj);
        }
        if constexpr (u >= 2 && u - 2 < kU) {
          constexpr int v = u - 2, r = v / 4, j = v % 4;
          const int8x16_t nj = j < 2 ? n2 : n3;
          t[v] = j % 2 == 0 ? vmlsl_s8(t[v], vget_low_s8(a2[r]), vget_low_s8(nj))
                            : vmlsl_high_s8(t[v], a2[r], nj);
        }
        if constexpr (u >= 4) {
          constexpr int v = u - 4;
          acc[v / 4][v % 4] = vpadalq_s16(acc[v / 4][v % 4], t[v]);
        }
      });
      A += 4 * MR;
      B += 64;
      LOWBIT_MCA_END_IF(kMain, qu8s8_gemm_4x16c2__neon);
    }
    corr = vaddw_s16(corr, vget_low_s16(vuzp2q_s16(corr16, corr16)));
    steps -= chunk;
  }
  int32_t* C = static_cast<int32_t*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN_IF(kMain, qu8s8_gemm_4x16c2__neon/epilogue);
  unroll<0, kU>([&](auto i) LOWBIT_AI {
    constexpr int r = decltype(i)::value / 4, j = decltype(i)::value % 4;
    store_s32(C + r * ldc + 4 * j, vsubq_s32(acc[r][j], vdupq_laneq_s32(corr, r)), keep);
  });
  LOWBIT_MCA_END_IF(kMain, qu8s8_gemm_4x16c2__neon/epilogue);
}

// ---- int4 ----------------------------------------------------------------------------
// A: uint8 codes [kc/2][8][2]; B: Elem::kU4, block h of 32 bytes = 16 columns x 2 k,
// low nibbles group 2h, high nibbles group 2h+1.
// 16 units (row r, 8 columns j) of MUL .16b + ADALP, software-pipelined in source order:
// unit u multiplies while unit u-4 accumulates, so that in-order cores do not wait on the
// multiply latency (GCC's pre-RA scheduler, which would do this, is off in this TU).
template <int MR, typename Acc, typename V, typename Mul, typename Adalp>
inline LOWBIT_AI void byte_step(Acc (&acc)[MR][2], V a, V b0, V b1, Mul mul, Adalp adalp) {
  constexpr int kLag = 4;
  V ar[MR], p[2 * MR];
  unroll<0, 2 * MR + kLag>([&](auto uu) LOWBIT_AI {
    constexpr int u = decltype(uu)::value;
    if constexpr (u < 2 * MR) {
      if constexpr (u % 2 == 0) ar[u / 2] = dup_pair<u / 2>(a);
      p[u] = mul(ar[u / 2], u % 2 ? b1 : b0);
    }
    if constexpr (u >= kLag) {
      constexpr int v = u - kLag;
      acc[v / 2][v % 2] = adalp(acc[v / 2][v % 2], p[v]);
    }
  });
}

template <int MR>
inline LOWBIT_AI void byte_step(uint16x8_t (&acc)[MR][2], uint8x16_t a, uint8x16_t b0,
                                uint8x16_t b1) {
  byte_step<MR>(acc, a, b0, b1, [](uint8x16_t x, uint8x16_t y) LOWBIT_AI { return vmulq_u8(x, y); },
            [](uint16x8_t s, uint8x16_t x) LOWBIT_AI { return vpadalq_u8(s, x); });
}

template <int MR>
inline LOWBIT_AI void byte_step(int16x8_t (&acc)[MR][2], int8x16_t a, int8x16_t b0,
                                int8x16_t b1) {
  byte_step<MR>(acc, a, b0, b1, [](int8x16_t x, int8x16_t y) LOWBIT_AI { return vmulq_s8(x, y); },
            [](int16x8_t s, int8x16_t x) LOWBIT_AI { return vpadalq_s8(s, x); });
}

template <int MR>  // 8 (main tile), 4, 2, 1
void qu4_x16(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr bool kMain = MR == 8;
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  uint16x8_t acc[MR][2];
  unroll<0, 2 * MR>([&](auto i) LOWBIT_AI { acc[i / 2][i % 2] = vdupq_n_u16(0); });
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  for (int64_t h = 0; h < kc / 4; ++h) {
    LOWBIT_MCA_BEGIN_IF(kMain, qu4_gemm_8x16c2__neon);
    const uint8x16_t q0 = vld1q_u8(B), q1 = vld1q_u8(B + 16);
    byte_step<MR>(acc, arm::opaque(arm::load_bytes<2 * MR>(A)), vandq_u8(q0, low4),
                  vandq_u8(q1, low4));
    byte_step<MR>(acc, arm::opaque(arm::load_bytes<2 * MR>(A + 2 * MR)), vshrq_n_u8(q0, 4),
                  vshrq_n_u8(q1, 4));
    A += 4 * MR;
    B += 32;
    LOWBIT_MCA_END_IF(kMain, qu4_gemm_8x16c2__neon);
  }
  // Flush: uint16 column sums -> int32 (zero-extend; a lane holds at most 65535).
  int32_t* C = static_cast<int32_t*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN_IF(kMain, qu4_gemm_8x16c2__neon/epilogue);
  unroll<0, 2 * MR>([&](auto i) LOWBIT_AI {
    constexpr int r = decltype(i)::value / 2, j = decltype(i)::value % 2;
    int32_t* row = C + r * ldc + 8 * j;
    store_s32(row, vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(acc[r][j]))), keep);
    store_s32(row + 4, vreinterpretq_s32_u32(vmovl_high_u16(acc[r][j])), keep);
  });
  LOWBIT_MCA_END_IF(kMain, qu4_gemm_8x16c2__neon/epilogue);
}

// ---- 4.6bit --------------------------------------------------------------------------
// A: int8 [kc/2][8][2] stored x - a in [-a, a] (a_offset); B: int8 [kc/2][16][2] in [-b, b].
template <int MR>  // 8 (main tile), 4, 2, 1
void q46_x16(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  constexpr bool kMain = MR == 8;
  const int8_t* A = static_cast<const int8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  int16x8_t acc[MR][2];
  unroll<0, 2 * MR>([&](auto i) LOWBIT_AI { acc[i / 2][i % 2] = vdupq_n_s16(0); });
  int64_t g = 0;
  // Two k-groups per iteration (the same 4 k per iteration as int4); kc/2 may be odd.
  for (; g + 2 <= kc / 2; g += 2) {
    LOWBIT_MCA_BEGIN_IF(kMain, q46_gemm_8x16c2__neon);
    byte_step<MR>(acc, arm::opaque(arm::load_bytes_s8<2 * MR>(A)), vld1q_s8(B), vld1q_s8(B + 16));
    byte_step<MR>(acc, arm::opaque(arm::load_bytes_s8<2 * MR>(A + 2 * MR)), vld1q_s8(B + 32),
                  vld1q_s8(B + 48));
    A += 4 * MR;
    B += 64;
    LOWBIT_MCA_END_IF(kMain, q46_gemm_8x16c2__neon);
  }
  if (g < kc / 2)
    byte_step<MR>(acc, arm::opaque(arm::load_bytes_s8<2 * MR>(A)), vld1q_s8(B), vld1q_s8(B + 16));
  int32_t* C = static_cast<int32_t*>(c);
  const int32x4_t keep = arm::keep_mask(accumulate);
  LOWBIT_MCA_BEGIN_IF(kMain, q46_gemm_8x16c2__neon/epilogue);
  unroll<0, 2 * MR>([&](auto i) LOWBIT_AI {
    constexpr int r = decltype(i)::value / 2, j = decltype(i)::value % 2;
    int32_t* row = C + r * ldc + 8 * j;
    store_s32(row, vmovl_s16(vget_low_s16(acc[r][j])), keep);
    store_s32(row + 4, vmovl_high_s16(acc[r][j]), keep);
  });
  LOWBIT_MCA_END_IF(kMain, q46_gemm_8x16c2__neon/epilogue);
}

int int8_to_signed(const FormatParams&) { return -128; }

// The first descriptor of a format is the main tile (pack_weights packs for it); the others
// are its small-M companions: same packed B, fewer rows (docs/architecture.md).
#define LB_F32(MR)                                                                  \
constexpr KernelDesc kF32_##MR =                                                    \
    KernelDesc::fp32("f32_gemm_" #MR "x12__neon", "neon", MR, 12, {96, 256, 3072},  \
                     f32_x12<MR>);
LB_F32(8) LB_F32(4) LB_F32(2) LB_F32(1)
#define LB_INT8(MR)                                                                          \
constexpr KernelDesc kInt8_##MR =                                                            \
    KernelDesc::acc32("qu8s8_gemm_" #MR "x16c2__neon", Format::kInt8, "neon",                \
                      {MR, 16, 4, 2}, Elem::kS8, Elem::kS8, {96, 512, 3072}, qu8s8_x16<MR>)  \
        .with_offsets(int8_to_signed);
LB_INT8(4) LB_INT8(2) LB_INT8(1)
// 16-bit lanes: one k-group (2 k) adds 2 products per lane; unsigned (codes are >= 0).
#define LB_INT4(MR)                                                                              \
constexpr KernelDesc kInt4_##MR =                                                                \
    KernelDesc::acc16("qu4_gemm_" #MR "x16c2__neon", Format::kInt4, "neon",                      \
                      {MR, 16, 2, 2}, Elem::kU8, Elem::kU4, {2, true, false}, {96, 1024, 3072},  \
                      qu4_x16<MR>);
LB_INT4(8) LB_INT4(4) LB_INT4(2) LB_INT4(1)
#define LB_Q46(MR)                                                                                \
constexpr KernelDesc kQ46_##MR =                                                                  \
    KernelDesc::acc16("q46_gemm_" #MR "x16c2__neon", Format::kQ46, "neon",                        \
                      {MR, 16, 2, 2}, Elem::kS8, Elem::kS8, {2, false, false}, {96, 1024, 3072},  \
                      q46_x16<MR>)                                                                \
        .with_offsets(q46_centre);
LB_Q46(8) LB_Q46(4) LB_Q46(2) LB_Q46(1)

constexpr KernelFamily kList[] = {
    {&kF32_8, &kF32_4, &kF32_2, &kF32_1},
    {&kInt8_4, &kInt8_2, &kInt8_1},
    {&kInt4_8, &kInt4_4, &kInt4_2, &kInt4_1},
    {&kQ46_8, &kQ46_4, &kQ46_2, &kQ46_1},
};

}  // namespace

const FamilyList& kernels_neon() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
