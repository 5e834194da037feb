// Roofline probes of the avx512 tier (compiled with its flags): the avx2 probes at zmm width
// (roofline_x86.h), 24 independent accumulators per iteration, and a 512-bit streaming read.
#include "roofline_x86.h"

RL_ARITH_TIER(avx512, Z, zmm, RL_R24, 24, 16, 32, 64, Zmm)
