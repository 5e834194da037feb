// Intrinsics for the wide x86 tiers (avx512, avxvnni, avx512vnni, amx), compiled one of
// two ways from the same source:
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
// SIMDe vectors are structs, not machine registers: nothing to pin.
#define LB_PIN(v) ((void)0)
#else
#include <immintrin.h>
// An empty asm that claims to modify v (any vector register, zmm16-31 included: "v", not
// "x", which would confine it to the 16 legacy registers).  It stops GCC re-associating
// the accumulation chains across rows, which raises register pressure and spills
// accumulators to the stack (the same device as in avx2.cpp).
#define LB_PIN(v) __asm__("" : "+v"(v))
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

}  // namespace x86
}  // namespace lowbit
