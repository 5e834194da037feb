// Roofline probe of the avxvnni tier (compiled with its flags): {vex} vpdpbusd ymm, 32 exact
// u8 x s8 MACs into int32 per instruction, 14 independent accumulators per iteration (the
// instruction's latency times its ports on current cores is at most 10).
#include "roofline_x86.h"

RL_VNNI_TIER(avxvnni, Y, ymm, RL_R14, 14, 32, " (VEX)")
