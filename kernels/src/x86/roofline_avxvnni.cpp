// Roofline probe of the avxvnni tier (compiled with its flags): {vex} vpdpbusd ymm, 32 exact
// u8 x s8 MACs into int32 per instruction, 14 independent accumulators per iteration (the
// instruction's latency times its ports on current cores is at most 10).
#include "../roofline.h"
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_DPBUSD(i) "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm" #i "\n\t"

void dpbusd_ymm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  RL_LOOP(RL_BCAST_Y("vpbroadcastd"), RL_R14(RL_ZERO_Y), RL_R14(RL_DPBUSD), RL_CLOBBER_Y);
}

const Probe kProbes[] = {
    {"vpdpbusd.ymm", "avxvnni", "vpdpbusd ymm (VEX): 32 u8 x s8 MACs into int32", 14 * 64.0,
     dpbusd_ymm},
};

}  // namespace

List list_avxvnni() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
