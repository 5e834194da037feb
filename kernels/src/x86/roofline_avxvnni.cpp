// Roofline probe of the avxvnni tier (compiled with its flags): {vex} vpdpbusd ymm, 32 exact
// u8 x s8 MACs into int32 per instruction, 14 independent accumulators per iteration (the
// instruction's latency times its ports on current cores is at most 10).
#include "../roofline.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_R14(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)
#define RL_ZERO(i) "vpxor %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
#define RL_DPBUSD(i) "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm" #i "\n\t"

void dpbusd_ymm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  __asm__ volatile(
      "vpbroadcastd %[a], %%ymm14\n\t"
      "vpbroadcastd %[b], %%ymm15\n\t" RL_R14(RL_ZERO)
      "1:\n\t" RL_R14(RL_DPBUSD)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
}

const Probe kProbes[] = {
    {"vpdpbusd.ymm", "avxvnni", "vpdpbusd ymm (VEX): 32 u8 x s8 MACs into int32", 14 * 64.0,
     dpbusd_ymm},
};

}  // namespace

List list_avxvnni() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
