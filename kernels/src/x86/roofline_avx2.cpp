// Roofline probes of the avx2 tier (compiled with the avx2 flags; roofline_x86.h at ymm
// width): 256-bit FMA, the vpmaddwd+vpaddd pair (int8 kernels: int16 pairs into int32), the
// vpmaddubsw+vpaddw pair (int4 / 4.6-bit kernels: u8 x s8 pairs into int16), and a 256-bit
// streaming read.  Every iteration is 12 independent operations (or pairs) on 12
// accumulators, enough to cover the latency of every x86 core's vector units.
#include "roofline_x86.h"

RL_ARITH_TIER(avx2, Y, ymm, RL_R12, 12, 8, 16, 32, Ymm)
