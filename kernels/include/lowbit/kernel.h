// The kernel framework contract (see docs/architecture.md and docs/formats.md).
//
// BLIS-style: the only per-ISA code is a micro-kernel, described by a KernelDesc.
// Packing, cache blocking, threading, edge tiles, the 16->32-bit flush schedule and
// the zero-point corrections are generic (kernels/src/driver.cpp, pack.cpp) and shared
// by every format and tier.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit {

enum class Format : int { kFp32 = 0, kInt8 = 1, kInt4 = 2, kQ46 = 3 };

// How one element of a packed operand is stored.
enum class Elem : int {
  kF32,  // float
  kU8,   // uint8_t
  kS8,   // int8_t
  kS16,  // int16_t
  kU4,   // two unsigned 4-bit codes per byte (B only, see pack layout below)
};

// Format parameters. Only 4.6bit has any: N_x = 2a+1 activation levels, N_w = 2b+1 weight
// levels, a = floor(127 / b)  (docs/formats.md).
struct FormatParams {
  int act_levels = 0;
  int weight_levels = 0;
};

// Micro-kernel.
//   kc  : depth handled by this call, a multiple of KernelDesc::kpad(); for kernels with
//         16-bit accumulators the driver guarantees kc <= the flush period (max_kc()).
//   a   : packed A micro-panel, layout [kc/ka][mr][ka] of a_elem  (row r, k = g*ka+u)
//   b   : packed B micro-panel, layout [kc/kb][nr][kb] of b_elem  (col c, k = g*kb+u);
//         for Elem::kU4 two consecutive groups share one block of nr*kb bytes: byte j of
//         block h holds group 2h in its low nibble and group 2h+1 in its high nibble.
//   c   : a full mr x nr tile, row-major with row stride ldc (elements); int32_t for the
//         integer formats, float for fp32.
//   accumulate: 0 -> C = A*B,  1 -> C += A*B.
// Integer kernels compute the raw sum of stored values; wrap-around modulo 2^32 in the
// int32 result is fine (the driver's corrections are modular too), but a 16-bit lane must
// never overflow: that is what the flush period is for.
using UKernelFn = void (*)(int64_t kc, const void* a, const void* b, void* c, int64_t ldc,
                           int accumulate);

using UPanelsFn = void (*)(int64_t kc, const void* a, const void* b, int64_t b_stride,
                          void* c, int accumulate);
// A micro-kernel that reads A in place: rows of x (stride lda bytes) instead of a packed
// panel; otherwise as the variant's ukernel (KernelDesc::ukernel_direct).
using DirectAFn = void (*)(int64_t kc, const uint8_t* a, int64_t lda, const void* b, void* c,
                           int64_t ldc, int accumulate);
// Value -> stored transform of a packed operand: stored = value + offset(params).
// (4.6bit re-centres activations this way; the driver folds the offset into the
// row/column-sum corrections.)  nullptr means offset 0.
using OffsetFn = int (*)(const FormatParams&);
// The 4.6bit offsets, defined once (formats.cpp) for every tier: q46_centre re-centres
// activations 0..2a to [-a, a]; q46_shift moves weights [-b, b] to [0, 2b].
int q46_centre(const FormatParams& p);
int q46_shift(const FormatParams& p);

// Optional hook run once per thread before the first micro-kernel call of a gemm (AMX
// tile configuration) and after the last (tile release).  nullptr = nothing to do.
using ThreadHookFn = void (*)();

// The named parts of a descriptor (the named constructors of KernelDesc take these).
struct Tile {
  int mr, nr;  // register tile
  int ka, kb;  // k grouping of packed A and B
};
struct Blocking {
  int mc, kc, nc;  // cache blocking defaults
};
// 16-bit accumulation (see KernelDesc::acc_bits): products one k-group adds into a lane, and
// how the lane and the step instruction behave.
struct Lanes16 {
  int terms_per_step;
  bool lane_unsigned;
  bool step_saturates;
};

struct KernelDesc {
  // ---- named constructors: every tier builds its descriptors with these, e.g.
  //   KernelDesc::acc16("qu4_gemm_5x16c4__avx2", Format::kInt4, "avx2", {5, 16, 4, 4},
  //                     Elem::kS8, Elem::kU4, {2, false, true}, {96, 1024, 3072}, fn)
  //   .with_offsets(q46_centre, q46_shift)
  // fp32 with fp32 accumulators (ka = kb = 1).
  static constexpr KernelDesc fp32(const char* name, const char* tier, int mr, int nr,
                                   Blocking blk, UKernelFn fn) {
    return make(name, Format::kFp32, tier, {mr, nr, 1, 1}, Elem::kF32, Elem::kF32, 32,
                {1, false, false}, blk, fn);
  }
  // An integer format with int32 accumulators (no depth limit).
  static constexpr KernelDesc acc32(const char* name, Format f, const char* tier, Tile t,
                                    Elem a, Elem b, Blocking blk, UKernelFn fn) {
    return make(name, f, tier, t, a, b, 32, {1, false, false}, blk, fn);
  }
  // An integer format with 16-bit lanes, flushed into int32 every flush_period().
  static constexpr KernelDesc acc16(const char* name, Format f, const char* tier, Tile t,
                                    Elem a, Elem b, Lanes16 lanes, Blocking blk,
                                    UKernelFn fn) {
    return make(name, f, tier, t, a, b, 16, lanes, blk, fn);
  }
  // Modifiers (copies with the optional parts set).
  constexpr KernelDesc with_offsets(OffsetFn a, OffsetFn b = nullptr) const {
    KernelDesc d = *this;
    d.a_offset = a;
    d.b_offset = b;
    return d;
  }
  constexpr KernelDesc with_thread_hooks(ThreadHookFn begin, ThreadHookFn end) const {
    KernelDesc d = *this;
    d.thread_begin = begin;
    d.thread_end = end;
    return d;
  }
  constexpr KernelDesc with_narrow(const KernelDesc* variant, int x_max) const {
    KernelDesc d = *this;
    d.narrow = variant;
    d.narrow_x_max = x_max;
    return d;
  }
  constexpr KernelDesc with_wide(UPanelsFn fn, int panels) const {
    KernelDesc d = *this;
    d.ukernel_wide = fn;
    d.wide_panels = panels;
    return d;
  }
  constexpr KernelDesc with_edge(UKernelFn fn, int cols = 0) const {
    KernelDesc d = *this;
    d.ukernel_edge = fn;
    d.edge_cols = cols;
    return d;
  }
  constexpr KernelDesc with_edge2(UKernelFn fn, DirectAFn direct, int cols) const {
    KernelDesc d = *this;
    d.ukernel_edge2 = fn;
    d.ukernel_direct_edge2 = direct;
    d.edge2_cols = cols;
    return d;
  }
  constexpr KernelDesc with_direct(DirectAFn fn, DirectAFn edge = nullptr) const {
    KernelDesc d = *this;
    d.ukernel_direct = fn;
    d.ukernel_direct_edge = edge;
    return d;
  }

  const char* name;    // XNNPACK-style: "qs8_gemm_6x16c2__avx2"
  Format format;
  const char* tier;    // "scalar", "avx2", "avx512", "avxvnni", "avx512vnni", "amx",
                       // "neon", "dotprod", "i8mm"
  int mr, nr;          // register tile
  int ka, kb;          // k grouping of packed A and B
  Elem a_elem, b_elem;
  OffsetFn a_offset, b_offset;
  // Accumulation. acc_bits = 32 (int32 or fp32 accumulators, no depth limit) or 16.
  // With 16: each k-group of B (kb values of k) adds one "step" of `terms_per_step`
  // products into every 16-bit lane; lane_unsigned: lanes hold unsigned sums (only valid
  // when every stored product is >= 0); step_saturates: the step instruction itself
  // saturates at int16 (vpmaddubsw), so one step must fit 32767.  With 32, the three are
  // unused (acc32() sets them to 1, false, false).
  int acc_bits;
  int terms_per_step;
  bool lane_unsigned;
  bool step_saturates;
  // Cache blocking defaults (multiples of mr / nr / kpad are enforced by the driver).
  int mc, kc, nc;
  UKernelFn ukernel;
  ThreadHookFn thread_begin, thread_end;

  int kpad() const;  // lcm(ka, kb, and 2*kb for Elem::kU4)

  // ---- optional fields (set with the with_* modifiers above) ----
  // An exact-but-faster variant for calls whose activation codes all lie in
  // [x_min, narrow_x_max] (AVX2 int8: 7-bit codes let vpmaddubsw run without saturation).
  // Same mr, nr and format; its own A and B layouts: the driver packs B for it from this
  // variant's packed B on first use and picks it only when the staged codes of the call
  // pass the narrower check.  Not in the registry's list (it is not exact on every input).
  const KernelDesc* narrow = nullptr;
  int narrow_x_max = 0;
  // fp32 one-row variants (mr == 1, GEMV-like calls): the product of ukernel over
  // `wide_panels` adjacent full B panels at once (b, b + b_stride bytes, ...) into
  // c[0, wide_panels*nr): several memory streams in flight instead of one.  Each column's
  // bits must equal what ukernel gives it (same summation order), so a call gets the same
  // result however its panels are split.
  UPanelsFn ukernel_wide = nullptr;
  int wide_panels = 0;
  // When set, the kernel for an edge tile (a B panel with fewer than nr real columns, and at
  // most edge_cols of them when edge_cols > 0): such a panel is never part of a wide call,
  // so its summation order is free.  With edge_cols, it computes only the tile's first
  // edge_cols columns (half the vectors: N = 35 on 16-column panels computed 48 columns).
  UKernelFn ukernel_edge = nullptr;
  int edge_cols = 0;
  // When set, the in-place form of ukernel: A read from x's rows (stride lda bytes) for
  // full micro-panels.  The driver decides when (gemm_on: fp32, and integer codes that need
  // no check); the tier only supplies the kernel.  ukernel_direct_edge: its edge form, for
  // the panels ukernel_edge serves (same edge_cols).
  DirectAFn ukernel_direct = nullptr;
  DirectAFn ukernel_direct_edge = nullptr;
  // A second, narrower edge (packed and in-place forms) for panels with at most edge2_cols
  // real columns, ahead of ukernel_edge: on Zen 4 a ymm FMA costs half a zmm one, so the
  // avx512 fp32 tiles' 8-column edge takes a quarter of a full panel's time (N = 35 on
  // 32-column panels: 40 columns computed instead of 48).
  UKernelFn ukernel_edge2 = nullptr;
  DirectAFn ukernel_direct_edge2 = nullptr;
  int edge2_cols = 0;

 private:
  static constexpr KernelDesc make(const char* name, Format f, const char* tier, Tile t,
                                   Elem a, Elem b, int acc_bits, Lanes16 lanes, Blocking blk,
                                   UKernelFn fn) {
    KernelDesc d{};
    d.name = name;
    d.format = f;
    d.tier = tier;
    d.mr = t.mr;
    d.nr = t.nr;
    d.ka = t.ka;
    d.kb = t.kb;
    d.a_elem = a;
    d.b_elem = b;
    d.acc_bits = acc_bits;
    d.terms_per_step = lanes.terms_per_step;
    d.lane_unsigned = lanes.lane_unsigned;
    d.step_saturates = lanes.step_saturates;
    d.mc = blk.mc;
    d.kc = blk.kc;
    d.nc = blk.nc;
    d.ukernel = fn;
    return d;
  }
};

// A kernel family: the micro-kernels that read one packed B.  Its tiles share format, tier,
// nr, kb, element types and offsets (the registry checks this once); they differ in tile
// height mr (and may differ in ka as long as a taller tile's kpad() is a multiple of a
// shorter one's, in blocking and in thread hooks).  tiles[0] is the main tile, the one
// pack_weights packs for; the others serve calls with fewer rows.  The tile for M is an
// index lookup (tile_for), fixed when the family is declared:
//   constexpr KernelFamily kList[] = {{&kF32_6, &kF32_1, &kF32_2, &kF32_4}, ...};
struct KernelFamily {
  static constexpr int kMaxTiles = 8;
  static constexpr int kMaxMR = 64;
  const KernelDesc* tiles[kMaxTiles] = {};
  int count = 0;
  // by_m[m] (1 <= m <= kMaxMR): index of the smallest tile with mr >= m (0 when none).
  unsigned char by_m[kMaxMR + 1] = {};

  template <typename... D>
  constexpr KernelFamily(const KernelDesc* main, D... small) : tiles{main, small...} {
    static_assert(sizeof...(D) < kMaxTiles, "too many tiles in a family");
    count = int(1 + sizeof...(D));
    for (int m = 1; m <= kMaxMR; ++m) {
      int best = 0;
      for (int i = 1; i < count; ++i)
        if (tiles[i]->mr >= m && tiles[i]->mr < tiles[best]->mr) best = i;
      by_m[m] = static_cast<unsigned char>(best);
    }
  }
  const KernelDesc& main() const { return *tiles[0]; }
  // The tile of this family that runs M rows on a B packed for tile `packed`: the smallest
  // mr >= M, never taller than the packed tile.
  int tile_for(int64_t M, int packed) const {
    return M >= tiles[packed]->mr ? packed : by_m[M];
  }
};

// The registry: every compiled family, in preference order (best first) within a format.
// Each tier translation unit contributes a list (see registry.cpp).
struct FamilyList {
  const KernelFamily* items;
  size_t count;
};

}  // namespace lowbit
