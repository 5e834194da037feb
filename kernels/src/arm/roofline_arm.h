// Shared pieces of the aarch64 roofline probes (roofline_<tier>.cpp): register-list repeaters
// and the probe loop.  Inline assembly, because with intrinsics the compiler would hoist the
// loop-invariant multiplies out of the loop.
#pragma once

#define RL_R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define RL_R16(X) RL_R12(X) X(12) X(13) X(14) X(15)
#define RL_ZERO(i) "movi v" #i ".16b, #0\n\t"
// Operands: the bytes of `a` and `b` (C++ uint32_t variables) in every lane of v28 and v29;
// accumulators v0..v15 zeroed; BODY run `n` times.
#define RL_LOOP(BODY)                                                                       \
  __asm__ volatile("dup v28.16b, %w[a]\n\tdup v29.16b, %w[b]\n\t" RL_R16(RL_ZERO)           \
                   "1:\n\t" BODY                                                            \
                   "subs %x[n], %x[n], #1\n\t"                                              \
                   "b.ne 1b\n\t"                                                            \
                   : [n] "+r"(n)                                                            \
                   : [a] "r"(a), [b] "r"(b)                                                 \
                   : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10",     \
                     "v11", "v12", "v13", "v14", "v15", "v16", "v28", "v29", "cc", "memory")
