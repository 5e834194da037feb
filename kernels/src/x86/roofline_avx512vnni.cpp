// Roofline probe of the avx512vnni tier (compiled with its flags): vpdpbusd zmm, 64 exact
// u8 x s8 MACs into int32 per instruction, 24 independent accumulators per iteration.
#include "../roofline.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_R24(X)                                                                           \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
  X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define RL_ZERO(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define RL_DPBUSD(i) "vpdpbusd %%zmm31, %%zmm30, %%zmm" #i "\n\t"

void dpbusd_zmm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  __asm__ volatile(
      "vpbroadcastd %[a], %%zmm30\n\t"
      "vpbroadcastd %[b], %%zmm31\n\t" RL_R24(RL_ZERO)
      "1:\n\t" RL_R24(RL_DPBUSD)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
        "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
        "xmm31", "cc", "memory");
}

const Probe kProbes[] = {
    {"vpdpbusd.zmm", "avx512vnni", "vpdpbusd zmm: 64 u8 x s8 MACs into int32", 24 * 128.0,
     dpbusd_zmm},
};

}  // namespace

List list_avx512vnni() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
