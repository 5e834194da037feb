// Intrinsics for the x86 tiers and the vector-width layer (Ymm, Zmm) of the micro-kernels,
// compiled one of two ways from the same source:
//
//  * natively (the package build): <immintrin.h>, each tier TU with only its own -m flags;
//  * emulated (LOWBIT_X86_EMULATE, `make x86-emulated-test` only): SIMDe's portable
//    implementations of AVX-512 F/BW/VL/VNNI under the native names, so the kernels'
//    exact arithmetic is checked on CPUs that lack these ISAs.  SIMDe has no AVX-VNNI
//    names and no AMX; AVX-VNNI's vpdpbusd is the same operation as AVX512-VNNI/VL's ymm
//    form, and AMX comes from a small software model that lives with the test harness
//    (kernels/tests_native/x86/amx_model.h).
#pragma once

#if defined(LOWBIT_X86_EMULATE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/fma.h>
#undef _mm256_dpbusd_avx_epi32
#define _mm256_dpbusd_avx_epi32(src, a, b) simde_mm256_dpbusd_epi32(src, a, b)
// SIMDe 0.7.4's alias for this one takes the masked form's four arguments (fixed in 0.8).
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)
#include "amx_model.h"
// SIMDe vectors are structs, not machine registers: nothing to pin or fence.
#define LB_PIN(v) ((void)0)
#define LB_ROW_FENCE() ((void)0)
#define LB_MEMORY_FENCE() ((void)0)
#else
// GCC 12's AVX-512 headers initialise "undefined" vectors from themselves
// (`__m512i __Y = __Y;`), which -Wuninitialized reports inside the intrinsic once it is
// inlined (GCC PR 105593, fixed in 13); the diagnostic is about the header, not our code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
// An empty asm that claims to modify v (any vector register, zmm16-31 included: "v", not
// "x", which would confine it to the 16 legacy registers).  It stops GCC re-associating
// the accumulation chains across rows, which raises register pressure and spills
// accumulators to the stack (the same device as in avx2.cpp).
#define LB_PIN(v) __asm__("" : "+v"(v))
// A compiler-only barrier between the rows of a step: keeps GCC from hoisting the next
// rows' broadcasts above the current row's multiplies, which in the 16-bit kernels (one
// more live temporary per row than vpdpbusd) pushes the register count past 32 and
// spills an accumulator.  The CPU reorders across it freely; it emits no instruction.
#define LB_ROW_FENCE() __asm__ volatile("" ::: "memory")
#define LB_MEMORY_FENCE() __asm__ volatile("" ::: "memory")
#endif

#include <cstdint>

namespace lowbit {
namespace x86 {

// A 4-byte group of a packed operand as one 32-bit value (for set1_epi32 broadcasts).
inline int32_t load32(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// ---- the vector-width layer of the micro-kernels (x86/ukernels.h) ----------------------
// One struct per register width, holding the intrinsics a kernel needs under width-free
// names, plus the few code generation choices that were measured to differ between widths:
//  Ymm: 256-bit (avx2, avxvnni): 16 registers, 8 int32 / fp32 lanes.
//  Zmm: 512-bit (avx512, avx512vnni, amx companions): 32 registers, 16 lanes.
// A struct (and its VNNI dot product) exists only where the TU's -m flags provide the
// instructions.  Everything is inline: the compiled kernels are those of the intrinsics.

#if defined(__AVX2__) || defined(LOWBIT_X86_EMULATE)
struct Ymm {
  using I = __m256i;
  using F = __m256;
  static constexpr int kLanes = 8;  // int32 / fp32 lanes of one register
  // Code generation choices, measured on Zen 3 (avx2.cpp's history, docs/formats.md):
  static constexpr bool kPrefetchC = true;        // fp32: fetch the C tile before the k loop
  static constexpr bool kUnrollF32 = true;        // fp32: unroll the k loop 4x, no pins
  static constexpr bool kReloadNibbles = true;    // 16 registers: reload bytes for high nibbles
  static constexpr bool kTwoGroupsPerIter = true; // byte weights: two k-groups per iteration
  static constexpr bool kRowFence = false;

  static I zero_i() { return _mm256_setzero_si256(); }
  static F zero_f() { return _mm256_setzero_ps(); }
  // B panels: 64-byte aligned.
  static I load_b(const void* p) { return _mm256_load_si256(static_cast<const I*>(p)); }
  static F load_bf(const float* p) { return _mm256_load_ps(p); }
  static I loadu(const void* p) { return _mm256_loadu_si256(static_cast<const I*>(p)); }
  static F loadu_f(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(void* p, I v) { _mm256_storeu_si256(static_cast<I*>(p), v); }
  static void storeu_f(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F bcast_f(const float* p) { return _mm256_broadcast_ss(p); }
  static F add_f(F a, F b) { return _mm256_add_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  // kLanes*2 int8 at p sign-extended to int16.
  static I widen_s8(const void* p) {
    return _mm256_cvtepi8_epi16(_mm_load_si128(static_cast<const __m128i*>(p)));
  }
  static I set1_32(int32_t v) { return _mm256_set1_epi32(v); }
  static I set1_16(int16_t v) { return _mm256_set1_epi16(v); }
  static I set1_8(char v) { return _mm256_set1_epi8(v); }
  static I and_(I a, I b) { return _mm256_and_si256(a, b); }
  static I srli16(I a, int n) { return _mm256_srli_epi16(a, n); }
  static I srli32(I a, int n) { return _mm256_srli_epi32(a, n); }
  static I add64(I a, I b) { return _mm256_add_epi64(a, b); }
  static I add32(I a, I b) { return _mm256_add_epi32(a, b); }
  static I add16(I a, I b) { return _mm256_add_epi16(a, b); }
  static I madd16(I a, I b) { return _mm256_madd_epi16(a, b); }
  static I maddubs(I u8, I s8) { return _mm256_maddubs_epi16(u8, s8); }
#if defined(__AVXVNNI__) || defined(LOWBIT_X86_EMULATE)
  static I dpbusd(I acc, I u8, I s8) { return _mm256_dpbusd_avx_epi32(acc, u8, s8); }
#endif
};
#endif

#if defined(__AVX512F__) || defined(LOWBIT_X86_EMULATE)
struct Zmm {
  using I = __m512i;
  using F = __m512;
  static constexpr int kLanes = 16;
  // Fetch the C tile before the k loop (fp32 and the dot_c4 int8 tiles).  Zen 4, one thread,
  // in one process, prefetch on / off: int8 (avx512vnni) 1500x4224x176 1.09-1.12x,
  // 1500x3072x128 1.02-1.07x (C rows of 12-17 KB: every tile store missed), 1024^3 1.01x,
  // 3136x64x576 and 12544x64x147 0.99-1.00x; fp32 1.00-1.03x.
  static constexpr bool kPrefetchC = true;
  static constexpr bool kUnrollF32 = false;  // pinned accumulators instead
  static constexpr bool kReloadNibbles = false;
  static constexpr bool kTwoGroupsPerIter = false;
  static constexpr bool kRowFence = true;  // see LB_ROW_FENCE (simd_x86.h)

  static I zero_i() { return _mm512_setzero_si512(); }
  static F zero_f() { return _mm512_setzero_ps(); }
  static I load_b(const void* p) { return _mm512_loadu_si512(p); }
  static F load_bf(const float* p) { return _mm512_loadu_ps(p); }
  static I loadu(const void* p) { return _mm512_loadu_si512(p); }
  static F loadu_f(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(void* p, I v) { _mm512_storeu_si512(p, v); }
  static void storeu_f(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F bcast_f(const float* p) { return _mm512_set1_ps(*p); }
  static F add_f(F a, F b) { return _mm512_add_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static I widen_s8(const void* p) {
    return _mm512_cvtepi8_epi16(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
  }
  static I set1_32(int32_t v) { return _mm512_set1_epi32(v); }
  static I set1_16(int16_t v) { return _mm512_set1_epi16(v); }
  static I set1_8(char v) { return _mm512_set1_epi8(v); }
  static I and_(I a, I b) { return _mm512_and_si512(a, b); }
  static I srli16(I a, int n) { return _mm512_srli_epi16(a, n); }
  static I srli32(I a, int n) { return _mm512_srli_epi32(a, n); }
  static I add64(I a, I b) { return _mm512_add_epi64(a, b); }
  static I add32(I a, I b) { return _mm512_add_epi32(a, b); }
  static I add16(I a, I b) { return _mm512_add_epi16(a, b); }
  static I madd16(I a, I b) { return _mm512_madd_epi16(a, b); }
  static I maddubs(I u8, I s8) { return _mm512_maddubs_epi16(u8, s8); }
#if defined(__AVX512VNNI__) || defined(LOWBIT_X86_EMULATE)
  static I dpbusd(I acc, I u8, I s8) { return _mm512_dpbusd_epi32(acc, u8, s8); }
#endif
};
#endif

}  // namespace x86
}  // namespace lowbit
