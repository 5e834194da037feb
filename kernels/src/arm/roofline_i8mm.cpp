// Roofline probe of the i8mm tier (compiled with its flags): smmla, a 2x8 by 8x2 s8 block
// (32 MACs into int32) per instruction, 16 independent accumulators per iteration.
#include "../roofline.h"
#include "roofline_arm.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_SMMLA(i) "smmla v" #i ".4s, v28.16b, v29.16b\n\t"

void smmla(int64_t n) {
  const uint32_t a = 3, b = 5;
  RL_LOOP(RL_R16(RL_SMMLA));
}

const Probe kProbes[] = {
    {"smmla", "i8mm", "smmla: 2x8 by 8x2 s8 block, 32 MACs into int32", 16 * 64.0, smmla}};

}  // namespace

List list_i8mm() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
