// `avx512` tier (AVX-512 F/BW/VL, no VNNI: the Skylake-SP class).  Compiled with
// -mavx2 -mfma -mavx512f -mavx512bw -mavx512vl only.  The kernels are avx2.cpp's
// (x86/ukernels.h, instantiated here for Zmm): twice as wide (zmm, 32 columns) and with twice
// the registers (32), so twice the rows.
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

#include "ukernels.h"  // the micro-kernels, written once for Ymm and Zmm

using x86::Ymm;
using x86::Zmm;
constexpr int kNR = nr_of<Zmm>();

// Cache blocking (mc, kc, nc) is sized for a 48 KiB L1d / 1-2 MiB L2 (Ice Lake-SP,
// Sapphire Rapids) and not tuned on hardware: none was available to this build.
#define LB_F32(MR)                                                                    \
  constexpr KernelDesc kF32_##MR = KernelDesc::fp32("f32_gemm_" #MR "x32__avx512", "avx512", \
                                                    MR, kNR, {192, 256, 3072}, f32_tile<Zmm, MR>) \
                                  .with_edge(f32_tile<Zmm, MR, 1>, kNR / 2)             \
                                  .with_direct(f32_tile_direct<Zmm, MR>, f32_tile_direct<Zmm, MR, 1>) \
                                  .with_edge2(f32_tile_of<Ymm, MR, 1, kNR>,             \
                                              f32_tile_direct_of<Ymm, MR, 1, kNR>, kNR / 4);
#define LB_INT8(MR)                                                                          \
  constexpr KernelDesc kInt8_##MR = KernelDesc::acc32(                                       \
      "qu8s8_gemm_" #MR "x32c2__avx512", Format::kInt8, "avx512", {MR, kNR, 2, 2}, Elem::kS16, \
      Elem::kS8, {192, 512, 3072}, qu8s8_c2<Zmm, MR>)                                          \
          .with_edge(qu8s8_c2<Zmm, MR, 1>, kNR / 2);
// int4: activations 0..15 (the signed operand), weights 0..15 as nibbles; unsigned lanes.
#define LB_INT4(MR)                                                                          \
  constexpr KernelDesc kInt4_##MR = KernelDesc::acc16(                                       \
      "qu4_gemm_" #MR "x32c4__avx512", Format::kInt4, "avx512", {MR, kNR, 4, 4}, Elem::kS8,    \
      Elem::kU4, {2, true, true}, {192, 1024, 3072}, lowbit_c4<Zmm, MR, true, true>);
// 4.6bit: activations re-centred to [-a, a] (signed operand), weights shifted to [0, 2b]
// (unsigned operand); both offsets are folded into the row/column corrections.
#define LB_Q46(MR)                                                                           \
  constexpr KernelDesc kQ46_##MR =                                                           \
      KernelDesc::acc16("q46_gemm_" #MR "x32c4__avx512", Format::kQ46, "avx512",               \
                        {MR, kNR, 4, 4}, Elem::kS8, Elem::kU8, {2, false, true},               \
                        {192, 1024, 3072}, lowbit_c4<Zmm, MR, false, false>)                   \
          .with_offsets(q46_centre, q46_shift);
// 12 rows: 24 accumulators + B vectors + broadcast (+ nibble mask and halves) fit the 32 zmm
// registers without a spill (kernels/tests_native/x86/loop_report.py).  Small-M companions
// (same packed B, fewer rows; the driver picks the smallest mr >= M) for GEMV-like calls.
// The one-row fp32 tile: four B panels a call (KernelDesc::ukernel_wide), as on avx2.
constexpr KernelDesc kF32_1 =
    KernelDesc::fp32("f32_gemm_1x32__avx512", "avx512", 1, kNR, {192, 256, 3072}, f32_row1<Zmm>)
        .with_wide(f32_row<Zmm, 4>, 4);
LB_F32(12) LB_F32(2) LB_F32(4) LB_F32(8)
LB_INT8(12) LB_INT8(1) LB_INT8(2) LB_INT8(4) LB_INT8(8)
LB_INT4(12) LB_INT4(1) LB_INT4(2) LB_INT4(4) LB_INT4(8)
LB_Q46(12) LB_Q46(1) LB_Q46(2) LB_Q46(4) LB_Q46(8)

// One family per format (kernel.h): main tile first (pack_weights packs for it), then the
// small-M tiles; the driver picks the tile for M by index (KernelFamily::tile_for).
constexpr KernelFamily kList[] = {
    {&kF32_12, &kF32_1, &kF32_2, &kF32_4, &kF32_8},
    {&kInt8_12, &kInt8_1, &kInt8_2, &kInt8_4, &kInt8_8},
    {&kInt4_12, &kInt4_1, &kInt4_2, &kInt4_4, &kInt4_8},
    {&kQ46_12, &kQ46_1, &kQ46_2, &kQ46_4, &kQ46_8},
};

}  // namespace

const FamilyList& kernels_avx512() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
