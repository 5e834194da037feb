// Roofline probes of the avx512 tier (compiled with its flags): the avx2 probes at zmm width
// (roofline_x86.h), 24 independent accumulators per iteration, and a 512-bit streaming read.
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

RL_PROBE_FMA(fma_zmm, Z, RL_R24)
RL_PROBE_MADDWD(maddwd_zmm, Z, RL_R24)
RL_PROBE_MADDUBSW(maddubsw_zmm, Z, RL_R24)

const Probe kProbes[] = {
    {"fma.zmm", "avx512", "vfmadd231ps zmm: 16 fp32 multiply-adds", 24 * 32.0, fma_zmm},
    {"vpmaddwd+vpaddd.zmm", "avx512", "vpmaddwd + vpaddd zmm: 32 int16 MACs into int32",
     24 * 64.0, maddwd_zmm},
    {"vpmaddubsw+vpaddw.zmm", "avx512", "vpmaddubsw + vpaddw zmm: 64 u8 x s8 MACs into int16",
     24 * 128.0, maddubsw_zmm},
};
const Reader kReaders[] = {{"read.zmm", "avx512", read_streams<x86::Zmm>}};

}  // namespace

List list_avx512() { return {kProbes, 3, kReaders, 1}; }

}  // namespace roofline
}  // namespace lowbit
