// Roofline probes of the avx512 tier (compiled with its flags): the zmm forms of the avx2
// probes (roofline_avx2.cpp), 24 independent accumulators per iteration, and a 512-bit
// streaming read.
#include <immintrin.h>

#include "../roofline.h"
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_FMA(i) "vfmadd231ps %%zmm31, %%zmm30, %%zmm" #i "\n\t"
#define RL_MADDWD(i) RL_PAIR_Z("vpmaddwd", "vpaddd", i)
#define RL_MADDUBSW(i) RL_PAIR_Z("vpmaddubsw", "vpaddw", i)

void fma_zmm(int64_t n) {
  const float a = 1.0f, b = 1e-7f;
  RL_LOOP(RL_BCAST_Z("vbroadcastss"), RL_R24(RL_ZERO_Z), RL_R24(RL_FMA), RL_CLOBBER_Z);
}

void maddwd_zmm(int64_t n) {
  const int32_t a = 0x00030002, b = 0x00050004;
  RL_LOOP(RL_BCAST_Z("vpbroadcastd"), RL_R24(RL_ZERO_Z), RL_R24(RL_MADDWD), RL_CLOBBER_Z);
}

void maddubsw_zmm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  RL_LOOP(RL_BCAST_Z("vpbroadcastd"), RL_R24(RL_ZERO_Z), RL_R24(RL_MADDUBSW), RL_CLOBBER_Z);
}

uint64_t read_zmm(const void* p, size_t bytes) {
  // RL_STREAMS interleaved streams, one 64-byte line of each per step (roofline.h says why).
  const size_t seg = bytes / RL_STREAMS / 64 * 64;
  const char* b = static_cast<const char*>(p);
  __m512i s[RL_STREAMS];
  for (__m512i& x : s) x = _mm512_setzero_si512();
  for (size_t off = 0; off < seg; off += 64)
    for (int j = 0; j < RL_STREAMS; ++j)
      s[j] = _mm512_add_epi64(s[j], _mm512_load_si512(b + j * seg + off));
  for (size_t i = RL_STREAMS * seg; i < bytes; i += 64)  // the tail (bytes is a multiple of 256)
    s[0] = _mm512_add_epi64(s[0], _mm512_load_si512(b + i));
  for (int j = 1; j < RL_STREAMS; ++j) s[0] = _mm512_add_epi64(s[0], s[j]);
  alignas(64) uint64_t out[8];  // (GCC 12's _mm512_reduce_add_epi64 trips -Wuninitialized)
  _mm512_store_si512(out, s[0]);
  uint64_t sum = 0;
  for (uint64_t x : out) sum += x;
  return sum;
}

const Probe kProbes[] = {
    {"fma.zmm", "avx512", "vfmadd231ps zmm: 16 fp32 multiply-adds", 24 * 32.0, fma_zmm},
    {"vpmaddwd+vpaddd.zmm", "avx512", "vpmaddwd + vpaddd zmm: 32 int16 MACs into int32",
     24 * 64.0, maddwd_zmm},
    {"vpmaddubsw+vpaddw.zmm", "avx512", "vpmaddubsw + vpaddw zmm: 64 u8 x s8 MACs into int16",
     24 * 128.0, maddubsw_zmm},
};
const Reader kReaders[] = {{"read.zmm", "avx512", read_zmm}};

}  // namespace

List list_avx512() { return {kProbes, 3, kReaders, 1}; }

}  // namespace roofline
}  // namespace lowbit
