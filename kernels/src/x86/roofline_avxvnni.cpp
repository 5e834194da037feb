// Roofline probe of the avxvnni tier (compiled with its flags): {vex} vpdpbusd ymm, 32 exact
// u8 x s8 MACs into int32 per instruction, 14 independent accumulators per iteration (the
// instruction's latency times its ports on current cores is at most 10).
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

RL_PROBE_DPBUSD(dpbusd_ymm, Y, RL_R14)

const Probe kProbes[] = {
    {"vpdpbusd.ymm", "avxvnni", "vpdpbusd ymm (VEX): 32 u8 x s8 MACs into int32", 14 * 64.0,
     dpbusd_ymm},
};

}  // namespace

List list_avxvnni() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
