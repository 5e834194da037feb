// The x86 roofline probes, written once for both register widths (roofline_<tier>.cpp
// instantiate them, each TU compiled with its tier's flags, as the micro-kernels are):
//  * the compute loops, inline assembly (with intrinsics the compiler would hoist the
//    loop-invariant multiplies out of the loop), generated per width by RL_PROBE from the
//    width's register names: Y (ymm: operands in ymm14/15, temporary ymm12, up to 14
//    accumulators) or Z (zmm: operands in zmm30/31, temporary zmm28, up to 24);
//  * the streaming read, a template over the vector-width layer (simd_x86.h: Ymm, Zmm).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../roofline.h"
#include "simd_x86.h"

#define RL_R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define RL_R14(X) RL_R12(X) X(12) X(13)
#define RL_R24(X) RL_R14(X) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define RL_ZERO_Y(i) "vpxor %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
#define RL_ZERO_Z(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define RL_CLOBBER_Y                                                                         \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",     \
      "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory"
#define RL_CLOBBER_Z                                                                          \
  RL_CLOBBER_Y, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",       \
      "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"
// Broadcast the operands (C++ variables `a`, `b`), zero the accumulators, run BODY `n` times.
// The last argument names the clobber list (RL_CLOBBER_Y or RL_CLOBBER_Z).
#define RL_LOOP(INIT, ZERO, BODY, ...)                                                       \
  __asm__ volatile(INIT ZERO "1:\n\t" BODY "dec %[n]\n\tjnz 1b\n\tvzeroupper\n\t"            \
                   : [n] "+r"(n)                                                              \
                   : [a] "m"(a), [b] "m"(b)                                                   \
                   : __VA_ARGS__)
#define RL_BCAST_Y(op) op " %[a], %%ymm14\n\t" op " %[b], %%ymm15\n\t"
#define RL_BCAST_Z(op) op " %[a], %%zmm30\n\t" op " %[b], %%zmm31\n\t"
// One accumulator's operation of each instruction class, per width.  The pairs: t = op(b, a)
// into a temporary, then acc += t: a multiply with no dependency chain through it (the
// kernels' pattern), the add chained per accumulator.
#define RL_FMA_Y(i) "vfmadd231ps %%ymm15, %%ymm14, %%ymm" #i "\n\t"
#define RL_FMA_Z(i) "vfmadd231ps %%zmm31, %%zmm30, %%zmm" #i "\n\t"
#define RL_PAIR_Y(mul, add, i) mul " %%ymm15, %%ymm14, %%ymm12\n\t" add " %%ymm12, %%ymm" #i ", %%ymm" #i "\n\t"
#define RL_PAIR_Z(mul, add, i) mul " %%zmm31, %%zmm30, %%zmm28\n\t" add " %%zmm28, %%zmm" #i ", %%zmm" #i "\n\t"
#define RL_MADDWD_Y(i) RL_PAIR_Y("vpmaddwd", "vpaddd", i)
#define RL_MADDWD_Z(i) RL_PAIR_Z("vpmaddwd", "vpaddd", i)
#define RL_MADDUBSW_Y(i) RL_PAIR_Y("vpmaddubsw", "vpaddw", i)
#define RL_MADDUBSW_Z(i) RL_PAIR_Z("vpmaddubsw", "vpaddw", i)
// AVX-VNNI's ymm form needs the {vex} prefix (the EVEX encoding is AVX512-VNNI/VL's).
#define RL_DPBUSD_Y(i) "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm" #i "\n\t"
#define RL_DPBUSD_Z(i) "vpdpbusd %%zmm31, %%zmm30, %%zmm" #i "\n\t"

// void NAME(int64_t n): the loop of instruction class CLASS (FMA, MADDWD, MADDUBSW, DPBUSD)
// at width W (Y, Z) on the accumulators ACC lists (RL_R12, RL_R14, RL_R24), its operands
// A and B broadcast with BCAST.
#define RL_PROBE(NAME, CLASS, W, ACC, BCAST, A, B)                                           \
  void NAME(int64_t n) {                                                                     \
    const auto a = A, b = B;                                                                 \
    RL_LOOP(RL_BCAST_##W(BCAST), ACC(RL_ZERO_##W), ACC(RL_##CLASS##_##W), RL_CLOBBER_##W);     \
  }
// The operands of each class: values whose products stay small (no overflow, no denormals).
#define RL_PROBE_FMA(NAME, W, ACC) RL_PROBE(NAME, FMA, W, ACC, "vbroadcastss", 1.0f, 1e-7f)
#define RL_PROBE_MADDWD(NAME, W, ACC) \
  RL_PROBE(NAME, MADDWD, W, ACC, "vpbroadcastd", int32_t{0x00030002}, int32_t{0x00050004})
#define RL_PROBE_MADDUBSW(NAME, W, ACC) \
  RL_PROBE(NAME, MADDUBSW, W, ACC, "vpbroadcastd", int32_t{0x01020304}, int32_t{0x01010101})
#define RL_PROBE_DPBUSD(NAME, W, ACC) \
  RL_PROBE(NAME, DPBUSD, W, ACC, "vpbroadcastd", int32_t{0x01020304}, int32_t{0x01010101})

// A whole tier's probe list, list_<TIER>(), at width W (Y | Z; w: ymm | zmm) on NACC
// accumulators (ACC: RL_R<NACC>).  L1, L2, L4: fp32 lanes, int16 lanes and bytes of one
// register, as literals for the report's descriptions; ops per iteration are 2 per MAC.
//  RL_ARITH_TIER: FMA, vpmaddwd+vpaddd, vpmaddubsw+vpaddw and the streaming read over x86::V
//  (avx2, avx512).  RL_VNNI_TIER: vpdpbusd, NOTE appended to its description (avxvnni,
//  avx512vnni).
#define RL_ARITH_TIER(TIER, W, w, ACC, NACC, L1, L2, L4, V)                                    \
  namespace lowbit {                                                                         \
  namespace roofline {                                                                       \
  namespace {                                                                                \
  RL_PROBE_FMA(fma_##w, W, ACC)                                                              \
  RL_PROBE_MADDWD(maddwd_##w, W, ACC)                                                        \
  RL_PROBE_MADDUBSW(maddubsw_##w, W, ACC)                                                    \
  const Probe kProbes[] = {                                                                  \
      {"fma." #w, #TIER, "vfmadd231ps " #w ": " #L1 " fp32 multiply-adds", NACC * 2.0 * L1,     \
       fma_##w},                                                                             \
      {"vpmaddwd+vpaddd." #w, #TIER, "vpmaddwd + vpaddd " #w ": " #L2 " int16 MACs into int32", \
       NACC * 2.0 * L2, maddwd_##w},                                                         \
      {"vpmaddubsw+vpaddw." #w, #TIER,                                                       \
       "vpmaddubsw + vpaddw " #w ": " #L4 " u8 x s8 MACs into int16", NACC * 2.0 * L4,          \
       maddubsw_##w},                                                                        \
  };                                                                                         \
  const Reader kReaders[] = {{"read." #w, #TIER, read_streams<x86::V>}};                     \
  }                                                                                          \
  List list_##TIER() { return {kProbes, 3, kReaders, 1}; }                                   \
  }                                                                                          \
  }
#define RL_VNNI_TIER(TIER, W, w, ACC, NACC, L4, NOTE)                                          \
  namespace lowbit {                                                                         \
  namespace roofline {                                                                       \
  namespace {                                                                                \
  RL_PROBE_DPBUSD(dpbusd_##w, W, ACC)                                                        \
  const Probe kProbes[] = {                                                                  \
      {"vpdpbusd." #w, #TIER, "vpdpbusd " #w NOTE ": " #L4 " u8 x s8 MACs into int32",          \
       NACC * 2.0 * L4, dpbusd_##w},                                                         \
  };                                                                                         \
  }                                                                                          \
  List list_##TIER() { return {kProbes, 1, nullptr, 0}; }                                    \
  }                                                                                          \
  }

namespace lowbit {
namespace roofline {
namespace {  // internal linkage: one copy per tier TU, compiled with that tier's flags

// RL_STREAMS interleaved streams, one 64-byte line of each per step (roofline.h says why),
// each line read as 64 / sizeof(V::I) aligned vector loads.
template <class V>
uint64_t read_streams(const void* p, size_t bytes) {
  using I = typename V::I;
  constexpr size_t kW = sizeof(I);
  const size_t seg = bytes / RL_STREAMS / 64 * 64;
  const char* b = static_cast<const char*>(p);
  I s[RL_STREAMS];
  for (I& x : s) x = V::zero_i();
  for (size_t off = 0; off < seg; off += 64)
    for (int j = 0; j < RL_STREAMS; ++j) {
      const char* q = b + j * seg + off;
      I line = V::load_b(q);
      for (size_t h = kW; h < 64; h += kW) line = V::add64(line, V::load_b(q + h));
      s[j] = V::add64(s[j], line);
    }
  for (size_t i = RL_STREAMS * seg; i < bytes; i += kW)  // the tail (bytes is a multiple of 256)
    s[0] = V::add64(s[0], V::load_b(b + i));
  for (int j = 1; j < RL_STREAMS; ++j) s[0] = V::add64(s[0], s[j]);
  alignas(64) uint64_t out[kW / 8];
  V::storeu(out, s[0]);
  uint64_t sum = 0;
  for (uint64_t x : out) sum += x;
  return sum;
}

}  // namespace
}  // namespace roofline
}  // namespace lowbit
