// `avxvnni` tier (AVX2 + FMA + AVX-VNNI, the VEX-encoded vpdpbusd: Alder Lake, Meteor Lake,
// Arrow Lake, Sierra Forest: VNNI without AVX-512).  Compiled with -mavx2 -mfma -mavxvnni
// only.  The kernels are avx512vnni.cpp's (x86/ukernels.h) in ymm registers (16 of them,
// 16 columns).
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

#include "ukernels.h"  // the micro-kernels, written once for Ymm and Zmm

using x86::Ymm;
constexpr int kNR = nr_of<Ymm>();

// Cache blocking not tuned on hardware (none was available to this build).
// EXTRA: more of the descriptor (int8: its in-place form, KernelDesc::ukernel_direct; the
// driver says when A may be read in place).
#define LB_VNNI(FMT, PREFIX, MR, A_ELEM, B_ELEM, MC, NIBBLES, EXTRA)                          \
  constexpr KernelDesc k##FMT##_##MR = KernelDesc::acc32(                                    \
      PREFIX "_gemm_" #MR "x16c4__avxvnni", Format::k##FMT, "avxvnni", {MR, kNR, 4, 4}, A_ELEM, \
      B_ELEM, {MC, 1024, 3072}, dot_c4<Ymm, MR, NIBBLES>)                                     \
      .with_edge(dot_c4<Ymm, MR, NIBBLES, 1>, kNR / 2) EXTRA;
#define LB_INT8(MR) \
  LB_VNNI(Int8, "qu8s8", MR, Elem::kU8, Elem::kS8, 96, false, \
          .with_direct(dot_c4_direct<Ymm, MR>, dot_c4_direct<Ymm, MR, 1>))
#define LB_INT4(MR) LB_VNNI(Int4, "qu4", MR, Elem::kS8, Elem::kU4, 95, true, )
#define LB_Q46(MR) LB_VNNI(Q46, "q46", MR, Elem::kU8, Elem::kS8, 96, false, )
// Small-M companions (same packed B, fewer rows; the driver picks the smallest mr >= M).
LB_INT8(6) LB_INT8(1) LB_INT8(2) LB_INT8(4)
LB_INT4(5) LB_INT4(1) LB_INT4(2) LB_INT4(4)
LB_Q46(6) LB_Q46(1) LB_Q46(2) LB_Q46(4)

// One family per format (kernel.h): main tile first (pack_weights packs for it), then the
// small-M tiles; the driver picks the tile for M by index (KernelFamily::tile_for).
constexpr KernelFamily kList[] = {
    {&kInt8_6, &kInt8_1, &kInt8_2, &kInt8_4},
    {&kInt4_5, &kInt4_1, &kInt4_2, &kInt4_4},
    {&kQ46_6, &kQ46_1, &kQ46_2, &kQ46_4},
};

}  // namespace

const FamilyList& kernels_avxvnni() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
