// Roofline probes (roofline.cpp): a compute peak per instruction class the kernels use,
// measured with register-resident loops of independent operations, and a streaming-read
// bandwidth.  Each tier's probes live in their own translation unit compiled with that tier's
// flags (x86/roofline_<tier>.cpp, arm/roofline_<tier>.cpp) and run only where the tier is
// runnable.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit {
namespace roofline {

struct Probe {
  const char* name;     // instruction class, e.g. "vpmaddubsw+vpaddw.ymm"
  const char* tier;     // the tier whose CPU features it needs
  const char* what;     // one line for the report
  double ops_per_iter;  // operations (2 per multiply-accumulate) of one loop iteration
  void (*run)(int64_t iters);
};

// A streaming read of `bytes` bytes (a multiple of 256) at `p` (64-byte aligned); returns a
// value derived from every byte so the loads cannot be removed.  The SIMD readers interleave
// RL_STREAMS equal segments, one cache line of each per step: one sequential stream leaves
// DRAM bandwidth unused (Zen 3 VM, 64 MiB, one thread: 6-9 GB/s with one stream, 12-18 GB/s
// with eight), while the GEMV kernels (and OpenBLAS's) stream several panels at once, so a
// one-stream probe put single-thread GEMVs at 130-190% of their memory bound.
#define RL_STREAMS 8
struct Reader {
  const char* name;
  const char* tier;
  uint64_t (*read)(const void* p, size_t bytes);
};

struct List {
  const Probe* probes;
  size_t n_probes;
  const Reader* readers;
  size_t n_readers;
};

#if defined(LOWBIT_ARCH_X86)
List list_avx2();
List list_avx512();
List list_avxvnni();
List list_avx512vnni();
List list_amx();
#elif defined(LOWBIT_ARCH_AARCH64)
List list_neon();
List list_dotprod();
List list_i8mm();
#endif

}  // namespace roofline
}  // namespace lowbit
