// Roofline probes of the avx2 tier (compiled with the avx2 flags): 256-bit FMA, the
// vpmaddwd+vpaddd pair (int8 kernels: int16 pairs into int32), the vpmaddubsw+vpaddw pair
// (int4 / 4.6-bit kernels: u8 x s8 pairs into int16), and a 256-bit streaming read.
// Inline assembly: with intrinsics the compiler would hoist the loop-invariant multiplies out
// of the loop.  Every iteration is 12 independent operations (or pairs) on 12 accumulators,
// enough to cover the latency of every x86 core's vector units.
#include <immintrin.h>

#include "../roofline.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define RL_ZERO(i) "vpxor %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
#define RL_CLOBBER                                                                       \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
      "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory"

#define RL_FMA(i) "vfmadd231ps %%ymm15, %%ymm14, %%ymm" #i "\n\t"
void fma_ymm(int64_t n) {
  const float a = 1.0f, b = 1e-7f;
  __asm__ volatile(
      "vbroadcastss %[a], %%ymm14\n\t"
      "vbroadcastss %[b], %%ymm15\n\t" RL_R12(RL_ZERO)
      "1:\n\t" RL_R12(RL_FMA)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : RL_CLOBBER);
}

#define RL_MADDWD(i) "vpmaddwd %%ymm15, %%ymm14, %%ymm12\n\tvpaddd %%ymm12, %%ymm" #i ", %%ymm" #i "\n\t"
void maddwd_ymm(int64_t n) {
  const int32_t a = 0x00030002, b = 0x00050004;
  __asm__ volatile(
      "vpbroadcastd %[a], %%ymm14\n\t"
      "vpbroadcastd %[b], %%ymm15\n\t" RL_R12(RL_ZERO)
      "1:\n\t" RL_R12(RL_MADDWD)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : RL_CLOBBER);
}

#define RL_MADDUBSW(i) "vpmaddubsw %%ymm15, %%ymm14, %%ymm12\n\tvpaddw %%ymm12, %%ymm" #i ", %%ymm" #i "\n\t"
void maddubsw_ymm(int64_t n) {
  const int32_t a = 0x01020304, b = 0x01010101;
  __asm__ volatile(
      "vpbroadcastd %[a], %%ymm14\n\t"
      "vpbroadcastd %[b], %%ymm15\n\t" RL_R12(RL_ZERO)
      "1:\n\t" RL_R12(RL_MADDUBSW)
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n)
      : [a] "m"(a), [b] "m"(b)
      : RL_CLOBBER);
}

uint64_t read_ymm(const void* p, size_t bytes) {
  const __m256i* v = static_cast<const __m256i*>(p);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < bytes / 32; i += 8) {
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(v + i));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(v + i + 1));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(v + i + 2));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(v + i + 3));
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(v + i + 4));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(v + i + 5));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(v + i + 6));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(v + i + 7));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  alignas(32) uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), s);
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
