// Roofline probe of the avx512vnni tier (compiled with its flags): vpdpbusd zmm, 64 exact
// u8 x s8 MACs into int32 per instruction, 24 independent accumulators per iteration.
#include "../roofline.h"
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_DPBUSD(i) "vpdpbusd %%zmm31, %%zmm30, %%zmm" #i "\n\t"

void dpbusd_zmm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  RL_LOOP(RL_BCAST_Z("vpbroadcastd"), RL_R24(RL_ZERO_Z), RL_R24(RL_DPBUSD), RL_CLOBBER_Z);
}

const Probe kProbes[] = {
    {"vpdpbusd.zmm", "avx512vnni", "vpdpbusd zmm: 64 u8 x s8 MACs into int32", 24 * 128.0,
     dpbusd_zmm},
};

}  // namespace

List list_avx512vnni() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
