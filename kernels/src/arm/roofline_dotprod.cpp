// Roofline probe of the dotprod tier (compiled with its flags): sdot v.4s, 16 s8 MACs into
// int32 per instruction, 16 independent accumulators per iteration.
#include "../roofline.h"
#include "roofline_arm.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_SDOT(i) "sdot v" #i ".4s, v28.16b, v29.16b\n\t"

void sdot(int64_t n) {
  const uint32_t a = 3, b = 5;
  RL_LOOP(RL_R16(RL_SDOT));
}

const Probe kProbes[] = {{"sdot", "dotprod", "sdot v.4s: 16 s8 MACs into int32", 16 * 32.0, sdot}};

}  // namespace

List list_dotprod() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
