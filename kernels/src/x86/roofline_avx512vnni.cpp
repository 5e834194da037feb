// Roofline probe of the avx512vnni tier (compiled with its flags): vpdpbusd zmm, 64 exact
// u8 x s8 MACs into int32 per instruction, 24 independent accumulators per iteration.
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

RL_PROBE_DPBUSD(dpbusd_zmm, Z, RL_R24)

const Probe kProbes[] = {
    {"vpdpbusd.zmm", "avx512vnni", "vpdpbusd zmm: 64 u8 x s8 MACs into int32", 24 * 128.0,
     dpbusd_zmm},
};

}  // namespace

List list_avx512vnni() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
