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
#include "simd_x86.h"

#include "../internal.h"

namespace lowbit {
namespace {

#include "ukernels.h"  // the micro-kernels, written once for Ymm and Zmm

using x86::Ymm;
constexpr int kNR = nr_of<Ymm>();

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

constexpr Blocking kBlocking{96, 1024, 3072};
// DIRECT, DIRECT_EDGE: the tile's in-place form and its edge form
// (KernelDesc::ukernel_direct, ukernel_direct_edge) or nullptr.
#define LB_F32(MR, DIRECT, DIRECT_EDGE)                                                 \
  constexpr KernelDesc kF32_##MR = KernelDesc::fp32("f32_gemm_" #MR "x16__avx2", "avx2", MR, \
                                                    kNR, {96, 256, 3072}, f32_tile<Ymm, MR>) \
                                  .with_edge(f32_tile<Ymm, MR, 1>, kNR / 2)             \
                                  .with_direct(DIRECT, DIRECT_EDGE);
constexpr DirectAFn kF32Direct6 = f32_tile_direct<Ymm, 6>, kF32Direct6Edge = f32_tile_direct<Ymm, 6, 1>;
// Each int8 tile carries its 7-bit companion (KernelDesc::narrow), same mr.
#define LB_INT8(MR)                                                                            \
  constexpr KernelDesc kInt8n_##MR =                                                           \
      KernelDesc::acc32("qu7s8_gemm_" #MR "x16c4__avx2", Format::kInt8, "avx2", {MR, kNR, 4, 4}, \
                        Elem::kU8, Elem::kS8, kBlocking, qu7s8_c4<Ymm, MR>)                    \
          .with_edge(qu7s8_c4<Ymm, MR, 1>, kNR / 2);                                            \
  constexpr KernelDesc kInt8_##MR =                                                            \
      KernelDesc::acc32("qu8s8_gemm_" #MR "x16c2__avx2", Format::kInt8, "avx2", {MR, kNR, 2, 2}, \
                        Elem::kS16, Elem::kS8, {96, 512, 3072}, qu8s8_c2<Ymm, MR>)            \
          .with_edge(qu8s8_c2<Ymm, MR, 1>, kNR / 2)                                             \
          .with_narrow(&kInt8n_##MR, 127);
// int4: activations 0..15 (as the signed operand), weights 0..15 as nibbles; one
// vpmaddubsw step (2 products) must fit int16: it saturates.
#define LB_INT4(MR)                                                                            \
  constexpr KernelDesc kInt4_##MR =                                                            \
      KernelDesc::acc16("qu4_gemm_" #MR "x16c4__avx2", Format::kInt4, "avx2", {MR, kNR, 4, 4},   \
                        Elem::kS8, Elem::kU4, {2, false, true}, kBlocking,                     \
                        lowbit_c4<Ymm, MR, true, false>);
// 4.6bit: activations re-centred to [-a, a] (signed operand), weights shifted to [0, 2b]
// (unsigned operand); both offsets are folded into the row/column corrections.
#define LB_Q46(MR)                                                                             \
  constexpr KernelDesc kQ46_##MR =                                                             \
      KernelDesc::acc16("q46_gemm_" #MR "x16c4__avx2", Format::kQ46, "avx2", {MR, kNR, 4, 4},    \
                        Elem::kS8, Elem::kU8, {2, false, true}, kBlocking,                     \
                        lowbit_c4<Ymm, MR, false, false>)                                      \
          .with_offsets(q46_centre, q46_shift);
// The one-row fp32 tile: four B panels a call (KernelDesc::ukernel_wide), its own edge kernel.
constexpr KernelDesc kF32_1 =
    KernelDesc::fp32("f32_gemm_1x16__avx2", "avx2", 1, kNR, {96, 256, 3072}, f32_row1<Ymm>)
        .with_wide(f32_row<Ymm, 4>, 4)
        .with_edge(f32_1x16_edge);
// Tiles chosen by measurement on Zen 3 (docs/formats.md): int8 6x16 has no spills;
// the low-bit kernels need two more registers (nibble mask, raw bytes), so 5x16.
// Small-M companions (same packed B, fewer rows) for GEMV-like calls: the driver picks the
// smallest mr >= M (KernelFamily::tile_for).
LB_F32(6, kF32Direct6, kF32Direct6Edge) LB_F32(2, nullptr, nullptr) LB_F32(4, nullptr, nullptr)
LB_INT8(6) LB_INT8(1) LB_INT8(2) LB_INT8(4)
LB_INT4(5) LB_INT4(1) LB_INT4(2) LB_INT4(4)
LB_Q46(5) LB_Q46(1) LB_Q46(2) LB_Q46(4)

// One family per format (kernel.h): main tile first (pack_weights packs for it), then the
// small-M tiles; the driver picks the tile for M by index (KernelFamily::tile_for).
constexpr KernelFamily kList[] = {
    {&kF32_6, &kF32_1, &kF32_2, &kF32_4},
    {&kInt8_6, &kInt8_1, &kInt8_2, &kInt8_4},
    {&kInt4_5, &kInt4_1, &kInt4_2, &kInt4_4},
    {&kQ46_5, &kQ46_1, &kQ46_2, &kQ46_4},
};

}  // namespace

const FamilyList& kernels_avx2() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
