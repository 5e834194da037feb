// Roofline probe of the i8mm tier (compiled with its flags): smmla, a 2x8 by 8x2 s8 block
// (32 MACs into int32) per instruction, 16 independent accumulators per iteration.
#include "../roofline.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_R16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define RL_ZERO(i) "movi v" #i ".16b, #0\n\t"
#define RL_SMMLA(i) "smmla v" #i ".4s, v28.16b, v29.16b\n\t"

void smmla(int64_t n) {
  const uint32_t a = 3, b = 5;
  __asm__ volatile("dup v28.16b, %w[a]\n\tdup v29.16b, %w[b]\n\t" RL_R16(RL_ZERO)
                   "1:\n\t" RL_R16(RL_SMMLA)
                   "subs %x[n], %x[n], #1\n\t"
                   "b.ne 1b\n\t"
                   : [n] "+r"(n)
                   : [a] "r"(a), [b] "r"(b)
                   : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11",
                     "v12", "v13", "v14", "v15", "v28", "v29", "cc", "memory");
}

const Probe kProbes[] = {
    {"smmla", "i8mm", "smmla: 2x8 by 8x2 s8 block, 32 MACs into int32", 16 * 64.0, smmla},
};

}  // namespace

List list_i8mm() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
