// Shared pieces of the x86 roofline probes (roofline_<tier>.cpp): register-list repeaters and
// the probe loop.  Inline assembly, because with intrinsics the compiler would hoist the
// loop-invariant multiplies out of the loop.
#pragma once

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
// t = op(b, a) into a temporary, then acc += t: a multiply pair with no dependency chain
// through the multiply (the kernels' pattern), the add chained per accumulator.
#define RL_PAIR_Y(mul, add, i) mul " %%ymm15, %%ymm14, %%ymm12\n\t" add " %%ymm12, %%ymm" #i ", %%ymm" #i "\n\t"
#define RL_PAIR_Z(mul, add, i) mul " %%zmm31, %%zmm30, %%zmm28\n\t" add " %%zmm28, %%zmm" #i ", %%zmm" #i "\n\t"
