// Standalone bit-exactness harness for the aarch64 micro-kernels (kernels/src/arm/).
//
// Of the library it links only the format rules (formats.cpp: value ranges and the flush
// period, so the harness drives the lanes to the library's own bound); it packs operands in
// the layouts kernel.h documents, calls every micro-kernel of every tier this CPU can run
// (detected with kernels/src/cpu_arm.cpp, so QEMU_CPU=cortex-a72 skips dotprod and i8mm),
// and compares the C tile with a plain int64 reference of the raw sum of stored values
// (fp32: the same fused multiply-adds in k order, compared bit for bit).
//
// Operands: random values and constant / mixed extremes of each format's range, so the
// 16-bit lanes of the low-bit kernels are driven to the bound of the flush period; depths:
// kpad, a few odd multiples, the flush period itself (16-bit kernels) or several thousand
// (32-bit kernels, crossing the int8 kernel's side-sum chunk); accumulate 0 and 1; ldc > nr
// with guard values around the tile.  A final "N passed, N failed" line sums it up.
//
// Build and run: make arm-native-test (cross-compiled, run under qemu-aarch64-static).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "arm/tiers.h"
#include "internal.h"
#include "tiers.h"

namespace lowbit {
#define LOWBIT_TIER_X(name, rank, emulated, features, flags) const FamilyList& kernels_##name();
#include "tiers.def"
#undef LOWBIT_TIER_X
}  // namespace lowbit

using lowbit::Elem;
using lowbit::Format;
using lowbit::FormatParams;
using lowbit::KernelDesc;

namespace {

int g_pass = 0, g_fail = 0;

struct Ranges {
  int x_lo, x_hi, w_lo, w_hi;
};

Ranges ranges(Format f, const FormatParams& p) {
  if (f == Format::kFp32) return {0, 0, 0, 0};
  const lowbit::FormatRanges r = lowbit::format_ranges(f, p);
  return {r.x_min, r.x_max, r.w_min, r.w_max};
}

using lowbit::flush_period;

size_t elem_size(Elem e) {
  switch (e) {
    case Elem::kF32: return 4;
    case Elem::kS16: return 2;
    default: return 1;
  }
}

// A: mr x kc values (row-major) -> [kc/ka][mr][ka] stored = value + offset.
std::vector<uint8_t> pack_a(const KernelDesc& d, const std::vector<int>& x, int64_t kc, int off) {
  std::vector<uint8_t> out(size_t(kc) * d.mr * elem_size(d.a_elem) + 64, 0);
  for (int64_t g = 0; g < kc / d.ka; ++g)
    for (int r = 0; r < d.mr; ++r)
      for (int u = 0; u < d.ka; ++u) {
        const int64_t idx = (g * d.mr + r) * d.ka + u;
        const int v = x[size_t(r * kc + g * d.ka + u)] + off;
        if (d.a_elem == Elem::kS16) {
          const int16_t s = int16_t(v);
          std::memcpy(&out[size_t(idx) * 2], &s, 2);
        } else {
          out[size_t(idx)] = uint8_t(v);
        }
      }
  return out;
}

// B: kc x nr values (row-major) -> [kc/kb][nr][kb], or nibble blocks for Elem::kU4.
std::vector<uint8_t> pack_b(const KernelDesc& d, const std::vector<int>& w, int64_t kc, int off) {
  std::vector<uint8_t> out(size_t(kc) * d.nr + 64, 0);
  for (int64_t g = 0; g < kc / d.kb; ++g)
    for (int c = 0; c < d.nr; ++c)
      for (int u = 0; u < d.kb; ++u) {
        const int v = w[size_t((g * d.kb + u) * d.nr + c)] + off;
        const int64_t idx = (g * d.nr + c) * d.kb + u;
        if (d.b_elem == Elem::kU4) {
          const int64_t byte = (g / 2) * d.nr * d.kb + (idx - g * d.nr * d.kb);
          out[size_t(byte)] |= uint8_t((v & 15) << (4 * (g & 1)));
        } else {
          out[size_t(idx)] = uint8_t(v);
        }
      }
  return out;
}

std::vector<float> pack_f32(const std::vector<float>& v, int64_t kc, int rows, bool is_a) {
  // A: [kc][mr] from mr x kc; B: [kc][nr] from kc x nr (ka = kb = 1).
  std::vector<float> out(size_t(kc) * rows + 16, 0.f);
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < rows; ++r)
      out[size_t(k * rows + r)] = is_a ? v[size_t(r * kc + k)] : v[size_t(k * rows + r)];
  return out;
}

constexpr int32_t kGuard = 0x5A5A5A5A;
constexpr int kPad = 5;  // ldc = nr + kPad

void report(bool ok, const KernelDesc& d, const std::string& what) {
  if (ok) {
    ++g_pass;
  } else {
    ++g_fail;
    std::printf("FAIL %s: %s\n", d.name, what.c_str());
  }
}

enum class Pattern { kRandom, kMinMin, kMinMax, kMaxMin, kMaxMax, kMixedExtremes };
const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::kRandom: return "random";
    case Pattern::kMinMin: return "xmin*wmin";
    case Pattern::kMinMax: return "xmin*wmax";
    case Pattern::kMaxMin: return "xmax*wmin";
    case Pattern::kMaxMax: return "xmax*wmax";
    default: return "mixed-extremes";
  }
}

// Runs one integer case; returns true when the kernel matched the reference.
bool run_int(const KernelDesc& d, const FormatParams& p, int64_t kc, Pattern pat, int accumulate,
             std::mt19937& rng, bool expect_match = true) {
  const Ranges rg = ranges(d.format, p);
  std::vector<int> x(size_t(d.mr) * kc), w(size_t(kc) * d.nr);
  auto pick = [&](int lo, int hi, bool use_hi) { return use_hi ? hi : lo; };
  std::uniform_int_distribution<int> coin(0, 1);
  for (auto& v : x) {
    switch (pat) {
      case Pattern::kRandom: v = std::uniform_int_distribution<int>(rg.x_lo, rg.x_hi)(rng); break;
      case Pattern::kMinMin: case Pattern::kMinMax: v = rg.x_lo; break;
      case Pattern::kMaxMin: case Pattern::kMaxMax: v = rg.x_hi; break;
      default: v = pick(rg.x_lo, rg.x_hi, coin(rng));
    }
  }
  for (auto& v : w) {
    switch (pat) {
      case Pattern::kRandom: v = std::uniform_int_distribution<int>(rg.w_lo, rg.w_hi)(rng); break;
      case Pattern::kMinMin: case Pattern::kMaxMin: v = rg.w_lo; break;
      case Pattern::kMinMax: case Pattern::kMaxMax: v = rg.w_hi; break;
      default: v = pick(rg.w_lo, rg.w_hi, coin(rng));
    }
  }
  const int ao = d.a_offset ? d.a_offset(p) : 0, bo = d.b_offset ? d.b_offset(p) : 0;
  const auto A = pack_a(d, x, kc, ao);
  const auto B = pack_b(d, w, kc, bo);
  const int64_t ldc = d.nr + kPad;
  std::vector<int32_t> C(size_t(d.mr + 2) * ldc, kGuard), C0;
  int32_t* tile = C.data() + ldc;  // one guard row above and below
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  for (int r = 0; r < d.mr; ++r)
    for (int c = 0; c < d.nr; ++c) tile[r * ldc + c] = any(rng);
  C0 = C;
  d.ukernel(kc, A.data(), B.data(), tile, ldc, accumulate);
  bool ok = true;
  for (int64_t i = 0; i < int64_t(C.size()); ++i) {
    const int64_t r = i / ldc - 1, c = i % ldc;
    if (r < 0 || r >= d.mr || c >= d.nr) {
      if (C[size_t(i)] != C0[size_t(i)]) ok = false;  // wrote outside the tile
      continue;
    }
    int64_t sum = 0;
    for (int64_t k = 0; k < kc; ++k)
      sum += int64_t(x[size_t(r * kc + k)] + ao) * int64_t(w[size_t(k * d.nr + c)] + bo);
    const uint32_t want = uint32_t(sum) + (accumulate ? uint32_t(C0[size_t(i)]) : 0u);
    if (uint32_t(C[size_t(i)]) != want) ok = false;
  }
  if (expect_match)
    report(ok, d, "kc=" + std::to_string(kc) + " " + pattern_name(pat) +
                      " accumulate=" + std::to_string(accumulate) +
                      (d.format == Format::kQ46 ? " N_x=" + std::to_string(p.act_levels) +
                                                      " N_w=" + std::to_string(p.weight_levels)
                                                : ""));
  return ok;
}

void run_f32(const KernelDesc& d, int64_t kc, int accumulate, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(size_t(d.mr) * kc), w(size_t(kc) * d.nr);
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = nd(rng);
  const auto A = pack_f32(x, kc, d.mr, true);
  const auto B = pack_f32(w, kc, d.nr, false);
  const int64_t ldc = d.nr + kPad;
  std::vector<float> C(size_t(d.mr + 2) * ldc, -7.25f);
  float* tile = C.data() + ldc;
  for (int r = 0; r < d.mr; ++r)
    for (int c = 0; c < d.nr; ++c) tile[r * ldc + c] = nd(rng);
  const std::vector<float> C0 = C;
  d.ukernel(kc, A.data(), B.data(), tile, ldc, accumulate);
  bool ok = true;
  for (int64_t i = 0; i < int64_t(C.size()); ++i) {
    const int64_t r = i / ldc - 1, c = i % ldc;
    float want = C0[size_t(i)];
    if (r >= 0 && r < d.mr && c < d.nr) {
      // FMLA is fused and each lane runs k in order: the same chain of fmaf, then C + acc.
      float acc = 0.f;
      for (int64_t k = 0; k < kc; ++k) acc = std::fmaf(x[size_t(r * kc + k)], w[size_t(k * d.nr + c)], acc);
      want = accumulate ? C0[size_t(i)] + acc : acc;
    }
    if (std::memcmp(&want, &C[size_t(i)], sizeof want) != 0) ok = false;
  }
  report(ok, d, "kc=" + std::to_string(kc) + " accumulate=" + std::to_string(accumulate));
}

void test_kernel(const KernelDesc& d, std::mt19937& rng) {
  const int kp = d.kpad();
  const int before_fail = g_fail, before_pass = g_pass;
  if (d.format == Format::kFp32) {
    for (int64_t kc : {int64_t(kp), int64_t(3 * kp), int64_t(37 * kp), int64_t(256)})
      for (int acc : {0, 1}) run_f32(d, kc - kc % kp, acc, rng);
    std::printf("%-28s %-8s %3d checks, %d failed\n", d.name, d.tier, g_pass + g_fail - before_pass - before_fail,
                g_fail - before_fail);
    return;
  }
  std::vector<FormatParams> params = {{}};
  if (d.format == Format::kQ46) params = {{25, 21}, {29, 19}, {23, 23}, {5, 127}, {255, 3}};
  const Pattern all[] = {Pattern::kRandom, Pattern::kMinMin, Pattern::kMinMax,
                         Pattern::kMaxMin, Pattern::kMaxMax, Pattern::kMixedExtremes};
  for (const FormatParams& p : params) {
    const int64_t flush = flush_period(d, p);
    std::vector<int64_t> depths = {kp, 2 * kp, 3 * kp, 13 * kp};
    if (flush) {
      depths.push_back(flush - kp);
      depths.push_back(flush);
    } else {
      // 508 = 127 four-k steps: the int8 neon kernel's side-sum chunk; cross it.
      for (int64_t k : {508, 512, 1020, 2048, 4100}) depths.push_back(k - k % kp);
    }
    for (int64_t kc : depths)
      for (Pattern pat : all)
        for (int acc : {0, 1}) run_int(d, p, kc, pat, acc, rng);
    if (flush) {
      // The period is tight: one more k-block of same-sign worst-case products must
      // overflow a 16-bit lane.  This shows the extremes above really reached the bound.
      const Ranges rg = ranges(d.format, p);
      const int ao = d.a_offset ? d.a_offset(p) : 0;
      const bool a_hi_bigger = std::abs(rg.x_hi + ao) >= std::abs(rg.x_lo + ao);
      const Pattern worst = d.lane_unsigned ? Pattern::kMaxMax
                            : a_hi_bigger   ? Pattern::kMaxMax
                                            : Pattern::kMinMin;
      int64_t kc = flush + kp;
      // Keep adding k-blocks until the worst case exceeds the lane (rounding to kpad may
      // leave slack below the limit).
      const bool overflowed = !run_int(d, p, kc, worst, 0, rng, false) ||
                              !run_int(d, p, kc + kp, worst, 0, rng, false);
      report(overflowed, d,
             "expected a 16-bit lane overflow just past the flush period " + std::to_string(flush) +
                 " (is the accumulator really 16-bit?)");
    }
  }
  std::printf("%-28s %-8s %3d checks, %d failed\n", d.name, d.tier, g_pass + g_fail - before_pass - before_fail,
              g_fail - before_fail);
}

}  // namespace

int main() {
  std::printf("cpu: %s, arch %s, features:", lowbit::cpu_model().c_str(), lowbit::cpu_arch().c_str());
  for (const auto& f : lowbit::cpu_feature_list()) std::printf(" %s", f.c_str());
  std::printf("\n");
  struct Tier {
    const char* name;
    const lowbit::FamilyList& (*list)();
    const char* needs;  // space-separated CPU features
  };
  // Every tier of the tier table (tiers.def) for aarch64, and the scalar one.
  const Tier tiers[] = {
#define LOWBIT_TIER_X(name, rank, emulated, features, flags) {#name, lowbit::kernels_##name, features},
#include "tiers.def"
#undef LOWBIT_TIER_X
  };
  std::mt19937 rng(20240651);
  int tiers_run = 0;
  for (const Tier& t : tiers) {
    bool ok = true;
    std::istringstream needs(t.needs);
    for (std::string f; needs >> f;) ok = ok && lowbit::cpu_has_feature(f);
    if (!ok) {
      std::printf("tier %s skipped: this CPU lacks its features\n", t.name);
      continue;
    }
    ++tiers_run;
    const lowbit::FamilyList& l = t.list();
    for (size_t f = 0; f < l.count; ++f)
      for (int i = 0; i < l.items[f].count; ++i) test_kernel(*l.items[f].tiles[i], rng);
  }
  if (tiers_run == 0) ++g_fail;  // not even base ASIMD: detection is broken
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
