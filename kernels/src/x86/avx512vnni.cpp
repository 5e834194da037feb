// `avx512vnni` tier (AVX-512 F/BW/VL + AVX512-VNNI: Cascade Lake, Ice Lake-SP, Sapphire
// Rapids, Zen 4).  Compiled with the avx512 flags plus -mavx512vnni only.
//
// vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds the four products into an
// int32 lane without saturation (never vpdpbusds, which saturates): 64 exact MACs per
// instruction, no separate add.  With it, int8 is as cheap per MAC as any low-bit scheme:
// the 16-bit accumulation of the papers (vpmaddubsw + vpaddw, 2 instructions per 64 MACs,
// avx512.cpp) has no compute advantage left over one vpdpbusd per 64 MACs, so the low-bit
// formats use vpdpbusd too, with 32-bit accumulators and no flush; what int4 keeps is its
// memory advantage (nibble weights, unpacked in registers).  docs/formats.md.
//
//  int8 / 4.6bit 14x32c4 : A u8 [kc/4][14][4] broadcast as 32 bits, B s8 [kc/4][32][4];
//      2 x 14 vpdpbusd per k-group, 28 zmm accumulators.  4.6bit needs no re-centring
//      here: activation codes 0..2a are the unsigned operand, weights [-b, b] the signed
//      one, and 32-bit lanes cannot overflow (the driver's int32 guard covers the total).
//  int4 12x32c4 : B nibbles (0..15) unpacked in registers are the unsigned operand, the
//      activation codes 0..15 the signed one (so its 32-bit broadcast can be the
//      instruction's memory operand {1to16}).
#include "simd_x86.h"

#include "../internal.h"

namespace lowbit {
namespace {

#include "ukernels.h"  // the micro-kernels, written once for Ymm and Zmm

using x86::Zmm;
constexpr int kNR = nr_of<Zmm>();

// Cache blocking not tuned on hardware (none was available to this build).
// EXTRA: more of the descriptor (int8: its in-place form, KernelDesc::ukernel_direct; the
// driver says when A may be read in place).
#define LB_VNNI(FMT, PREFIX, MR, A_ELEM, B_ELEM, MC, KC, NIBBLES, EXTRA)                     \
  constexpr KernelDesc k##FMT##_##MR = KernelDesc::acc32(                                    \
      PREFIX "_gemm_" #MR "x32c4__avx512vnni", Format::k##FMT, "avx512vnni", {MR, kNR, 4, 4},   \
      A_ELEM, B_ELEM, {MC, KC, 3072}, dot_c4<Zmm, MR, NIBBLES>)                              \
      .with_edge(dot_c4<Zmm, MR, NIBBLES, 1>, kNR / 2) EXTRA;
#define LB_INT8(MR) \
  LB_VNNI(Int8, "qu8s8", MR, Elem::kU8, Elem::kS8, 196, 768, false, \
          .with_direct(dot_c4_direct<Zmm, MR>, dot_c4_direct<Zmm, MR, 1>))
#define LB_INT4(MR) LB_VNNI(Int4, "qu4", MR, Elem::kS8, Elem::kU4, 192, 1024, true, )
#define LB_Q46(MR) LB_VNNI(Q46, "q46", MR, Elem::kU8, Elem::kS8, 196, 768, false, )
// 14 rows (28 accumulators) for int8 / 4.6bit, 12 for int4 (the nibble mask and the raw and
// unpacked weight vectors take 5 registers); no spills (loop_report.py).  Small-M
// companions (same packed B, fewer rows; the driver picks the smallest mr >= M).
LB_INT8(14) LB_INT8(1) LB_INT8(2) LB_INT8(4) LB_INT8(8)
LB_INT4(12) LB_INT4(1) LB_INT4(2) LB_INT4(4) LB_INT4(8)
LB_Q46(14) LB_Q46(1) LB_Q46(2) LB_Q46(4) LB_Q46(8)

// One family per format (kernel.h): main tile first (pack_weights packs for it), then the
// small-M tiles; the driver picks the tile for M by index (KernelFamily::tile_for).
constexpr KernelFamily kList[] = {
    {&kInt8_14, &kInt8_1, &kInt8_2, &kInt8_4, &kInt8_8},
    {&kInt4_12, &kInt4_1, &kInt4_2, &kInt4_4, &kInt4_8},
    {&kQ46_14, &kQ46_1, &kQ46_2, &kQ46_4, &kQ46_8},
};

}  // namespace

const FamilyList& kernels_avx512vnni() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
