// Roofline probes of the avx512 tier (compiled with its flags): the zmm forms of the avx2
// probes (roofline_avx2.cpp), 24 independent accumulators per iteration, and a 512-bit
// streaming read.
#include <immintrin.h>

#include "../roofline.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_R24(X)                                                                           \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
  X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define RL_ZERO(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define RL_CLOBBER                                                                             \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",       \
      "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", \
      "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", \
      "xmm31", "cc", "memory"

#define RL_FMA(i) "vfmadd231ps %%zmm31, %%zmm30, %%zmm" #i "\n\t"
void fma_zmm(int64_t n) {
  const float a = 1.0f, b = 1e-7f;
  __asm__ volatile(
      "vbroadcastss %[a], %%zmm30\n\t"
      "vbroadcastss %[b], %%zmm31\n\t" RL_R24(RL_ZERO)
      "1:\n\t" RL_R24(RL_FMA)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : RL_CLOBBER);
}

#define RL_MADDWD(i) "vpmaddwd %%zmm31, %%zmm30, %%zmm28\n\tvpaddd %%zmm28, %%zmm" #i ", %%zmm" #i "\n\t"
void maddwd_zmm(int64_t n) {
  const int32_t a = 0x00030002, b = 0x00050004;
  __asm__ volatile(
      "vpbroadcastd %[a], %%zmm30\n\t"
      "vpbroadcastd %[b], %%zmm31\n\t" RL_R24(RL_ZERO)
      "1:\n\t" RL_R24(RL_MADDWD)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : RL_CLOBBER);
}

#define RL_MADDUBSW(i) "vpmaddubsw %%zmm31, %%zmm30, %%zmm28\n\tvpaddw %%zmm28, %%zmm" #i ", %%zmm" #i "\n\t"
void maddubsw_zmm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  __asm__ volatile(
      "vpbroadcastd %[a], %%zmm30\n\t"
      "vpbroadcastd %[b], %%zmm31\n\t" RL_R24(RL_ZERO)
      "1:\n\t" RL_R24(RL_MADDUBSW)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : RL_CLOBBER);
}

uint64_t read_zmm(const void* p, size_t bytes) {
  const __m512i* v = static_cast<const __m512i*>(p);
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < bytes / 64; i += 4) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(v + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(v + i + 1));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(v + i + 2));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(v + i + 3));
  }
  const __m512i s = _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3));
  alignas(64) uint64_t out[8];  // (GCC 12's _mm512_reduce_add_epi64 trips -Wuninitialized)
  _mm512_store_si512(out, s);
  uint64_t sum = 0;
  for (uint64_t v : out) sum += v;
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
