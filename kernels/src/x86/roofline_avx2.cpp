// Roofline probes of the avx2 tier (compiled with the avx2 flags): 256-bit FMA, the
// vpmaddwd+vpaddd pair (int8 kernels: int16 pairs into int32), the vpmaddubsw+vpaddw pair
// (int4 / 4.6-bit kernels: u8 x s8 pairs into int16), and a 256-bit streaming read.  Every
// iteration is 12 independent operations (or pairs) on 12 accumulators, enough to cover the
// latency of every x86 core's vector units.
#include <immintrin.h>

#include "../roofline.h"
#include "roofline_x86.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_FMA(i) "vfmadd231ps %%ymm15, %%ymm14, %%ymm" #i "\n\t"
#define RL_MADDWD(i) RL_PAIR_Y("vpmaddwd", "vpaddd", i)
#define RL_MADDUBSW(i) RL_PAIR_Y("vpmaddubsw", "vpaddw", i)

void fma_ymm(int64_t n) {
  const float a = 1.0f, b = 1e-7f;
  RL_LOOP(RL_BCAST_Y("vbroadcastss"), RL_R12(RL_ZERO_Y), RL_R12(RL_FMA), RL_CLOBBER_Y);
}

void maddwd_ymm(int64_t n) {
  const int32_t a = 0x00030002, b = 0x00050004;
  RL_LOOP(RL_BCAST_Y("vpbroadcastd"), RL_R12(RL_ZERO_Y), RL_R12(RL_MADDWD), RL_CLOBBER_Y);
}

void maddubsw_ymm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  RL_LOOP(RL_BCAST_Y("vpbroadcastd"), RL_R12(RL_ZERO_Y), RL_R12(RL_MADDUBSW), RL_CLOBBER_Y);
}

uint64_t read_ymm(const void* p, size_t bytes) {
  // RL_STREAMS interleaved streams, one 64-byte line of each per step (roofline.h says why).
  const size_t seg = bytes / RL_STREAMS / 64 * 64;
  const char* b = static_cast<const char*>(p);
  __m256i s[RL_STREAMS];
  for (__m256i& x : s) x = _mm256_setzero_si256();
  for (size_t off = 0; off < seg; off += 64)
    for (int j = 0; j < RL_STREAMS; ++j) {
      const __m256i* q = reinterpret_cast<const __m256i*>(b + j * seg + off);
      s[j] = _mm256_add_epi64(s[j], _mm256_add_epi64(_mm256_load_si256(q), _mm256_load_si256(q + 1)));
    }
  for (size_t i = RL_STREAMS * seg; i < bytes; i += 32)  // the tail (bytes is a multiple of 256)
    s[0] = _mm256_add_epi64(s[0], _mm256_load_si256(reinterpret_cast<const __m256i*>(b + i)));
  for (int j = 1; j < RL_STREAMS; ++j) s[0] = _mm256_add_epi64(s[0], s[j]);
  alignas(32) uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), s[0]);
  return out[0] + out[1] + out[2] + out[3];
}

const Probe kProbes[] = {
    {"fma.ymm", "avx2", "vfmadd231ps ymm: 8 fp32 multiply-adds", 12 * 16.0, fma_ymm},
    {"vpmaddwd+vpaddd.ymm", "avx2", "vpmaddwd + vpaddd ymm: 16 int16 MACs into int32",
     12 * 32.0, maddwd_ymm},
    {"vpmaddubsw+vpaddw.ymm", "avx2", "vpmaddubsw + vpaddw ymm: 32 u8 x s8 MACs into int16",
     12 * 64.0, maddubsw_ymm},
};
const Reader kReaders[] = {{"read.ymm", "avx2", read_ymm}};

}  // namespace

List list_avx2() { return {kProbes, 3, kReaders, 1}; }

}  // namespace roofline
}  // namespace lowbit
