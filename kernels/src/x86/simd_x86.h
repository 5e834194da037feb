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

}  // namespace x86
}  // namespace lowbit
