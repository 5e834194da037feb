// Roofline probe of the avx512vnni tier (compiled with its flags): vpdpbusd zmm, 64 exact
// u8 x s8 MACs into int32 per instruction, 24 independent accumulators per iteration.
#include "roofline_x86.h"

RL_VNNI_TIER(avx512vnni, Z, zmm, RL_R24, 24, 64, "")
