// Roofline probes of the avx2 tier (compiled with the avx2 flags; the loops are
// roofline_x86.h's at ymm width): 256-bit FMA, the vpmaddwd+vpaddd pair (int8 kernels: int16
// pairs into int32), the vpmaddubsw+vpaddw pair (int4 / 4.6-bit kernels: u8 x s8 pairs into
// int16), and a 256-bit streaming read.  Every iteration is 12 independent operations (or
// pairs) on 12 accumulators, enough to cover the latency of every x86 core's vector units.
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

RL_PROBE_FMA(fma_ymm, Y, RL_R12)
RL_PROBE_MADDWD(maddwd_ymm, Y, RL_R12)
RL_PROBE_MADDUBSW(maddubsw_ymm, Y, RL_R12)

const Probe kProbes[] = {
    {"fma.ymm", "avx2", "vfmadd231ps ymm: 8 fp32 multiply-adds", 12 * 16.0, fma_ymm},
    {"vpmaddwd+vpaddd.ymm", "avx2", "vpmaddwd + vpaddd ymm: 16 int16 MACs into int32",
     12 * 32.0, maddwd_ymm},
    {"vpmaddubsw+vpaddw.ymm", "avx2", "vpmaddubsw + vpaddw ymm: 32 u8 x s8 MACs into int16",
     12 * 64.0, maddubsw_ymm},
};
const Reader kReaders[] = {{"read.ymm", "avx2", read_streams<x86::Ymm>}};

}  // namespace

List list_avx2() { return {kProbes, 3, kReaders, 1}; }

}  // namespace roofline
}  // namespace lowbit
