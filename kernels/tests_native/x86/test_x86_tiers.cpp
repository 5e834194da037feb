// Emulated test of the wide x86 tiers (avx512, avxvnni, avx512vnni, amx) on any x86-64
// CPU: the tier sources are compiled against SIMDe (AVX-512 F/BW/VL/VNNI, AVX-VNNI) and
// the software AMX model (amx_model.h) with LOWBIT_X86_EMULATE, and every descriptor of
// those tiers is held to an exact integer reference:
//
//  1. micro-kernel level, with operands packed here from the layouts documented in
//     kernel.h (an independent reading of the contract): kc from one k-block up to and at
//     the descriptor's flush period, random / constant-corner / random-extreme data,
//     accumulate 0 and 1, ldc wider than the tile (padding must stay untouched); and at
//     one k-block past the flush period with worst-case data the 16-bit lanes must
//     overflow, which shows the period is the longest safe one, not merely a safe one;
//  2. through the real packing and driver (pack.cpp, driver.cpp): edge tiles, depth split
//     at the flush period, zero points at both ends, packing offsets, the AMX thread hooks
//     and threads = 1 and 2, against an int64 reference of sum (x - zx)(w - zw).
// Every (N_x, N_w) pair of 4.6bit is run at both levels.  Exit status 0 = all passed.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "internal.h"
#include "tiers.h"
#include "x86/simd_x86.h"

namespace lowbit {
// The emulated tiers: the rows of the tier table (tiers.def) with emulated = 1.
#define LB_IF_EMULATED_0(...)
#define LB_IF_EMULATED_1(...) __VA_ARGS__
#define LOWBIT_TIER_X(name, rank, emulated, features, flags) \
  LB_IF_EMULATED_##emulated(const FamilyList& kernels_##name();)
#include "tiers.def"
#undef LOWBIT_TIER_X

std::vector<const FamilyList*> emulated_lists() {
  return {
#define LOWBIT_TIER_X(name, rank, emulated, features, flags) \
  LB_IF_EMULATED_##emulated(&kernels_##name(),)
#include "tiers.def"
#undef LOWBIT_TIER_X
  };
}

// The family of a descriptor, as registry.cpp finds it; here the registry is the emulated
// tiers (registry.cpp would pull in every other tier).
FamilyTile family_of(const KernelDesc& d) {
  for (const FamilyList* l : emulated_lists())
    for (size_t i = 0; i < l->count; ++i)
      for (int t = 0; t < l->items[i].count; ++t)
        if (l->items[i].tiles[t] == &d) return {&l->items[i], t};
  throw std::logic_error(std::string(d.name) + ": in no family");
}

}  // namespace lowbit

using namespace lowbit;

namespace {

int g_failures = 0;
long g_checks = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    ++g_checks;                                            \
    if (!(cond)) {                                         \
      if (++g_failures <= 30) {                            \
        std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        std::fprintf(stderr, __VA_ARGS__);                 \
        std::fprintf(stderr, "\n");                        \
      }                                                    \
    }                                                      \
  } while (0)

std::mt19937_64 rng(20240601);

int rand_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

struct Buf {  // 64-byte aligned, zero-filled bytes
  AlignedBytes p;
  explicit Buf(size_t n) : p(aligned_bytes(n)) {}
  uint8_t* get() { return p.get(); }
};

// 4.6bit: every allowed (N_x, N_w) pair for a main tile; for its small-M companions (the
// same code with fewer rows) the default pair and both ends of the range.
std::vector<FormatParams> params_for(Format f, bool all_pairs) {
  std::vector<FormatParams> out;
  if (f != Format::kQ46) {
    out.push_back({});
    return out;
  }
  for (int b = 1; b <= 127; ++b)
    if (all_pairs || b == 1 || b == 10 || b == 127) out.push_back({2 * (127 / b) + 1, 2 * b + 1});
  return out;
}

// ---- packing from kernel.h's documented layouts (independent of pack.cpp) ---------------

void put_int(Elem e, uint8_t* base, size_t idx, int v) {
  switch (e) {
    case Elem::kU8: base[idx] = uint8_t(v); break;
    case Elem::kS8: base[idx] = uint8_t(int8_t(v)); break;
    case Elem::kS16: {
      const int16_t s = int16_t(v);
      std::memcpy(base + 2 * idx, &s, 2);
      break;
    }
    default: std::abort();
  }
}

// a: mr x kc (row-major) stored values -> [kc/ka][mr][ka]
Buf pack_a_tile(const KernelDesc& d, const std::vector<int>& a, const std::vector<float>& af,
                int64_t kc) {
  Buf out(size_t(d.mr * kc) * elem_bits(d.a_elem) / 8);
  for (int r = 0; r < d.mr; ++r)
    for (int64_t k = 0; k < kc; ++k) {
      const size_t idx = size_t(((k / d.ka) * d.mr + r) * d.ka + k % d.ka);
      if (d.a_elem == Elem::kF32)
        std::memcpy(out.get() + 4 * idx, &af[size_t(r * kc + k)], 4);
      else
        put_int(d.a_elem, out.get(), idx, a[size_t(r * kc + k)]);
    }
  return out;
}

// b: kc x nr (row-major) stored values -> [kc/kb][nr][kb], or nibble blocks for kU4
Buf pack_b_tile(const KernelDesc& d, const std::vector<int>& b, const std::vector<float>& bf,
                int64_t kc) {
  Buf out(size_t(kc * d.nr) * elem_bits(d.b_elem) / 8);
  for (int64_t k = 0; k < kc; ++k)
    for (int q = 0; q < d.nr; ++q) {
      const int64_t g = k / d.kb, u = k % d.kb;
      const size_t idx = size_t((g * d.nr + q) * d.kb + u);
      if (d.b_elem == Elem::kF32) {
        std::memcpy(out.get() + 4 * idx, &bf[size_t(k * d.nr + q)], 4);
      } else if (d.b_elem == Elem::kU4) {
        const size_t byte = size_t(((g / 2) * d.nr + q) * d.kb + u);
        out.get()[byte] |= uint8_t((b[size_t(k * d.nr + q)] & 15) << (4 * (g & 1)));
      } else {
        put_int(d.b_elem, out.get(), idx, b[size_t(k * d.nr + q)]);
      }
    }
  return out;
}

// ---- 1. micro-kernel level --------------------------------------------------------------

enum class Fill { kRandom, kCorner, kExtremes };

struct Ranges {
  int a_lo, a_hi, b_lo, b_hi;  // stored values
};

Ranges stored_ranges(const KernelDesc& d, const FormatParams& p) {
  const FormatRanges r = format_ranges(d.format, p);
  const int ao = d.a_offset ? d.a_offset(p) : 0, bo = d.b_offset ? d.b_offset(p) : 0;
  return {r.x_min + ao, r.x_max + ao, r.w_min + bo, r.w_max + bo};
}

// Runs one micro-kernel call and compares with the reference.  Returns true when exact.
bool run_ukernel(const KernelDesc& d, const FormatParams& p, int64_t kc, Fill fill, int corner,
                 int accumulate, bool report) {
  const Ranges R = stored_ranges(d, p);
  const int mr = d.mr, nr = d.nr;
  const bool is_f = d.format == Format::kFp32;
  std::vector<int> a(size_t(mr * kc)), b(size_t(kc * nr));
  std::vector<float> af, bf;
  auto pick = [&](int lo, int hi, int which) {
    switch (fill) {
      case Fill::kRandom: return rand_int(lo, hi);
      case Fill::kCorner: return which ? hi : lo;
      case Fill::kExtremes: return rand_int(0, 1) ? hi : lo;
    }
    return 0;
  };
  if (is_f) {  // small integers: every partial sum is exact in float, in any order
    for (auto& v : a) v = pick(-8, 8, corner & 1);
    for (auto& v : b) v = pick(-8, 8, corner >> 1);
    af.assign(a.begin(), a.end());
    bf.assign(b.begin(), b.end());
  } else {
    for (auto& v : a) v = pick(R.a_lo, R.a_hi, corner & 1);
    for (auto& v : b) v = pick(R.b_lo, R.b_hi, corner >> 1);
  }
  Buf pa = pack_a_tile(d, a, af, kc), pb = pack_b_tile(d, b, bf, kc);

  const int64_t ldc = nr + 3;
  const int64_t rows = mr + 1;  // one spare row below the tile
  std::vector<int32_t> c0(size_t(rows * ldc));
  for (auto& v : c0) v = int32_t(uint32_t(rng()));
  if (is_f)
    for (auto& v : c0) {
      const float f = float(rand_int(-1000, 1000));
      std::memcpy(&v, &f, 4);
    }
  std::vector<int32_t> c = c0;
  d.ukernel(kc, pa.get(), pb.get(), c.data(), ldc, accumulate);

  bool ok = true;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < ldc; ++q) {
      const size_t i = size_t(r * ldc + q);
      if (r >= mr || q >= nr) {
        if (c[i] != c0[i]) ok = false;  // outside the tile: untouched
        continue;
      }
      if (is_f) {
        float init, got;
        std::memcpy(&init, &c0[i], 4);
        std::memcpy(&got, &c[i], 4);
        double s = accumulate ? init : 0.0;
        for (int64_t k = 0; k < kc; ++k) s += double(a[size_t(r * kc + k)]) * b[size_t(k * nr + q)];
        if (double(got) != s) ok = false;
      } else {
        int64_t s = 0;
        for (int64_t k = 0; k < kc; ++k) s += int64_t(a[size_t(r * kc + k)]) * b[size_t(k * nr + q)];
        const uint32_t want = uint32_t(accumulate ? uint32_t(c0[i]) : 0u) + uint32_t(uint64_t(s));
        if (uint32_t(c[i]) != want) ok = false;
      }
    }
  if (report)
    CHECK(ok, "%s (N_x=%d N_w=%d) kc=%" PRId64 " fill=%d corner=%d accumulate=%d: wrong tile",
          d.name, p.act_levels, p.weight_levels, kc, int(fill), corner, accumulate);
  return ok;
}

void test_ukernel(const KernelDesc& d, bool all_pairs) {
  const auto plist = params_for(d.format, all_pairs);
  const int64_t kp = d.kpad();
  for (size_t pi = 0; pi < plist.size(); ++pi) {
    const FormatParams& p = plist[pi];
    const int64_t fp = d.format == Format::kFp32 ? 0 : flush_period(d, p);
    // Depths: one block, a few, around the flush period (or long ones for 32-bit lanes).
    std::vector<int64_t> kcs;
    if (fp) {
      kcs = {kp, fp - kp, fp};
      if (pi == 0 || d.format != Format::kQ46) kcs.insert(kcs.begin() + 1, {2 * kp, 5 * kp});
    } else {
      kcs = {kp, 2 * kp, 5 * kp, kp * (1024 / kp + 1)};
    }
    const bool full = pi == 0 || pi + 1 == plist.size() || plist[pi].weight_levels == 21;
    for (int64_t kc : kcs) {
      if (kc < kp) continue;
      for (int acc = 0; acc < 2; ++acc) {
        run_ukernel(d, p, kc, Fill::kRandom, 0, acc, true);
        run_ukernel(d, p, kc, Fill::kExtremes, 0, acc, true);
        if (full || kc == fp)
          for (int corner = 0; corner < 4; ++corner)
            run_ukernel(d, p, kc, Fill::kCorner, corner, acc, true);
      }
    }
    if (fp) {
      // One k-block beyond the period, all products at the largest magnitude: a 16-bit
      // lane must overflow, so the period cannot be longer.
      // Ties go to a positive product: int16 reaches -32768 but only +32767.
      const Ranges R = stored_ranges(d, p);
      int best = 0;
      int64_t best_key = -1;
      for (int corner = 0; corner < 4; ++corner) {
        const int64_t prod = int64_t(corner & 1 ? R.a_hi : R.a_lo) * (corner >> 1 ? R.b_hi : R.b_lo);
        const int64_t key = 2 * std::llabs(prod) + (prod > 0);
        if (key > best_key) best_key = key, best = corner;
      }
      const bool exact = run_ukernel(d, p, fp + kp, Fill::kCorner, best, 0, false);
      CHECK(!exact, "%s (N_x=%d N_w=%d): still exact at kc = flush period %" PRId64
            " + %" PRId64 " with worst-case data: the period is not the longest safe one",
            d.name, p.act_levels, p.weight_levels, fp, kp);
    }
  }
}

// ---- 2. through pack.cpp + driver.cpp ----------------------------------------------------

void run_gemm(const KernelDesc& d, const FormatParams& p, int64_t M, int64_t N, int64_t K,
              int zx_sel, int zw_sel, bool extremes) {
  const bool is_f = d.format == Format::kFp32;
  std::vector<uint8_t> xb(size_t(M * K)), wb(size_t(K * N));
  std::vector<float> xf, wf;
  int zx = 0, zw = 0;
  if (is_f) {
    xf.resize(xb.size());
    wf.resize(wb.size());
    for (auto& v : xf) v = std::uniform_real_distribution<float>(-1, 1)(rng);
    for (auto& v : wf) v = std::uniform_real_distribution<float>(-1, 1)(rng);
  } else {
    const FormatRanges r = format_ranges(d.format, p);
    auto pick = [&](int lo, int hi) { return extremes ? (rand_int(0, 1) ? hi : lo) : rand_int(lo, hi); };
    for (auto& v : xb) v = uint8_t(pick(r.x_min, r.x_max));
    for (auto& v : wb) v = uint8_t(int8_t(pick(r.w_min, r.w_max)));  // int8 or uint8 codes
    auto zsel = [&](int sel, int lo, int hi) { return sel == 0 ? lo : sel == 1 ? hi : rand_int(lo, hi); };
    zx = zsel(zx_sel, r.zx_min, r.zx_max);
    zw = zsel(zw_sel, r.zw_min, r.zw_max);
  }
  const void* w = is_f ? static_cast<const void*>(wf.data()) : wb.data();
  const void* x = is_f ? static_cast<const void*>(xf.data()) : xb.data();
  const FamilyTile ft = family_of(d);
  auto packed = pack_b(*ft.family, ft.tile, w, K, N, N, zw, p);

  for (int threads : {1, 2}) {
    std::vector<int32_t> c(size_t(M * N), 0x5a5a5a5a);
    try {
      gemm(*packed, x, M, K, zx, c.data(), N, threads);
    } catch (const std::exception& e) {
      CHECK(false, "%s: gemm threw: %s", d.name, e.what());
      return;
    }
    bool ok = true;
    double worst = 0;
    for (int64_t i = 0; i < M && ok; ++i)
      for (int64_t j = 0; j < N; ++j) {
        if (is_f) {
          double s = 0, sabs = 0;
          for (int64_t k = 0; k < K; ++k) {
            s += double(xf[size_t(i * K + k)]) * wf[size_t(k * N + j)];
            sabs += std::fabs(double(xf[size_t(i * K + k)]) * wf[size_t(k * N + j)]);
          }
          float got;
          std::memcpy(&got, &c[size_t(i * N + j)], 4);
          const double err = std::fabs(double(got) - s);
          worst = std::max(worst, err);
          if (!(err <= 1e-5 * sabs + 1e-6)) ok = false;
        } else {
          const bool ws = d.format == Format::kInt8 || d.format == Format::kQ46;
          int64_t s = 0;
          for (int64_t k = 0; k < K; ++k) {
            const int wv = ws ? int(int8_t(wb[size_t(k * N + j)])) : int(wb[size_t(k * N + j)]);
            s += (int64_t(xb[size_t(i * K + k)]) - zx) * (wv - zw);
          }
          if (int64_t(c[size_t(i * N + j)]) != s) {
            ok = false;
            break;
          }
        }
      }
    CHECK(ok, "%s (N_x=%d N_w=%d) M=%" PRId64 " N=%" PRId64 " K=%" PRId64
          " zx=%d zw=%d extremes=%d threads=%d: wrong result",
          d.name, p.act_levels, p.weight_levels, M, N, K, zx, zw, int(extremes), threads);
  }
}

void test_gemm(const KernelDesc& d, bool all_pairs) {
  const auto plist = params_for(d.format, all_pairs);
  const int64_t mr = d.mr, nr = d.nr;
  const FormatParams p0 = d.format == Format::kQ46 ? FormatParams{25, 21} : FormatParams{};
  const int64_t fp = d.format == Format::kFp32 ? 0 : flush_period(d, p0);
  std::vector<int64_t> Ks = {1, 2, 17, d.kpad() + 1, 290, 1023};
  if (fp) Ks.insert(Ks.end(), {fp - 1, fp, fp + 1, 3 * fp + 1});
  const int64_t Ms[] = {1, 3, 5, 9, mr - 1 > 0 ? mr - 1 : 1, mr + 1, 2 * mr + 3};
  const int64_t Ns[] = {1, nr + 5, 2 * nr + 1};
  for (int64_t K : Ks)
    for (int64_t M : Ms)
      for (int64_t N : Ns) run_gemm(d, p0, M, N, K, 2, 2, false);
  // Zero points at both ends with all-extreme codes, and a long depth (100 flush periods).
  for (int zs = 0; zs < 4; ++zs) {
    run_gemm(d, p0, mr + 2, nr + 3, fp ? fp + 1 : 300, zs & 1, zs >> 1, true);
    if (d.format == Format::kFp32) break;
  }
  run_gemm(d, p0, 3, nr + 1, fp ? 100 * fp : 20000, 2, 2, true);
  // Every (N_x, N_w) pair of 4.6bit: past one flush period, extreme codes and zero points.
  if (d.format == Format::kQ46)
    for (const FormatParams& p : plist) {
      const int64_t f = flush_period(d, p);
      run_gemm(d, p, mr + 1, nr + 2, f ? f + 5 : 301, 1, 2, true);
    }
}

// ---- 0. the emulation itself --------------------------------------------------------
// The kernels are only as well checked as the emulated instructions are right, so SIMDe's
// versions of the instructions they use are held to the SDM's definitions first, on
// random and extreme bytes (saturation and wrap-around included).

template <typename V>
V vload(const uint8_t* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V>
void vstore(uint8_t* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

void test_primitives() {
  for (int trial = 0; trial < 2000; ++trial) {
    uint8_t x[64], y[64], z[64], out[64];
    for (int i = 0; i < 64; ++i) {
      const int mode = trial % 4;  // random, extremes, max, min
      x[i] = uint8_t(mode == 0 ? rng() : mode == 1 ? (rng() & 1 ? 0xFF : 0x80) : mode == 2 ? 0xFF : 0x80);
      y[i] = uint8_t(mode == 0 ? rng() : mode == 1 ? (rng() & 1 ? 0x7F : 0x80) : mode == 2 ? 0x7F : 0x80);
      z[i] = uint8_t(rng());
    }
    auto i32 = [](const uint8_t* p, int i) { int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; };
    auto i16 = [](const uint8_t* p, int i) { int16_t v; std::memcpy(&v, p + 2 * i, 2); return v; };
    auto u8 = [](const uint8_t* p, int i) { return int(p[i]); };
    auto s8 = [](const uint8_t* p, int i) { return int(int8_t(p[i])); };
    // vpdpbusd (zmm and the VEX ymm form): z + sum of 4 u8*s8, int32 wrap-around
    vstore(out, _mm512_dpbusd_epi32(vload<__m512i>(z), vload<__m512i>(x), vload<__m512i>(y)));
    for (int l = 0; l < 16; ++l) {
      uint32_t w = uint32_t(i32(z, l));
      for (int j = 0; j < 4; ++j) w += uint32_t(u8(x, 4 * l + j) * s8(y, 4 * l + j));
      CHECK(uint32_t(i32(out, l)) == w, "emulated _mm512_dpbusd_epi32 lane %d", l);
    }
    vstore(out, _mm256_dpbusd_avx_epi32(vload<__m256i>(z), vload<__m256i>(x), vload<__m256i>(y)));
    for (int l = 0; l < 8; ++l) {
      uint32_t w = uint32_t(i32(z, l));
      for (int j = 0; j < 4; ++j) w += uint32_t(u8(x, 4 * l + j) * s8(y, 4 * l + j));
      CHECK(uint32_t(i32(out, l)) == w, "emulated _mm256_dpbusd_avx_epi32 lane %d", l);
    }
    // vpmaddubsw: saturating int16 sum of 2 u8*s8
    vstore(out, _mm512_maddubs_epi16(vload<__m512i>(x), vload<__m512i>(y)));
    for (int l = 0; l < 32; ++l) {
      const int v = u8(x, 2 * l) * s8(y, 2 * l) + u8(x, 2 * l + 1) * s8(y, 2 * l + 1);
      CHECK(i16(out, l) == std::clamp(v, -32768, 32767), "emulated _mm512_maddubs_epi16 lane %d", l);
    }
    // vpmaddwd: int32 sum of 2 int16*int16 (wraps only for -32768 * -32768 twice)
    vstore(out, _mm512_madd_epi16(vload<__m512i>(x), vload<__m512i>(y)));
    for (int l = 0; l < 16; ++l) {
      const uint32_t v = uint32_t(int32_t(i16(x, 2 * l)) * i16(y, 2 * l)) +
                         uint32_t(int32_t(i16(x, 2 * l + 1)) * i16(y, 2 * l + 1));
      CHECK(uint32_t(i32(out, l)) == v, "emulated _mm512_madd_epi16 lane %d", l);
    }
    // vpaddw wraps; vpmovsxbw; shifts; and
    vstore(out, _mm512_add_epi16(vload<__m512i>(x), vload<__m512i>(y)));
    for (int l = 0; l < 32; ++l)
      CHECK(i16(out, l) == int16_t(uint16_t(i16(x, l) + i16(y, l))), "emulated _mm512_add_epi16");
    vstore(out, _mm512_cvtepi8_epi16(vload<__m256i>(y)));
    for (int l = 0; l < 32; ++l) CHECK(i16(out, l) == s8(y, l), "emulated _mm512_cvtepi8_epi16");
    vstore(out, _mm512_and_si512(_mm512_srli_epi16(vload<__m512i>(x), 4), _mm512_set1_epi8(0x0F)));
    for (int l = 0; l < 64; ++l) {
      const int word = uint16_t(i16(x, l / 2)) >> 4;
      CHECK(out[l] == ((l & 1 ? word >> 8 : word) & 0x0F), "emulated srli_epi16 + and");
    }
    vstore(out, _mm512_srli_epi32(vload<__m512i>(z), 16));
    for (int l = 0; l < 16; ++l) CHECK(uint32_t(i32(out, l)) == uint32_t(i32(z, l)) >> 16, "srli_epi32");
  }
}

// ---- names -------------------------------------------------------------------------------

void test_name(const KernelDesc& d) {
  const std::string n = d.name;
  const std::string tile = "_" + std::to_string(d.mr) + "x" + std::to_string(d.nr);
  CHECK(n.size() > std::strlen(d.tier) + 2 && n.substr(n.size() - std::strlen(d.tier) - 2) ==
                                                  std::string("__") + d.tier,
        "%s: name does not end in __%s", d.name, d.tier);
  CHECK(n.find(tile) != std::string::npos, "%s: name does not state the tile %s", d.name,
        tile.c_str());
  if (d.format != Format::kFp32)
    CHECK(n.find(tile + "c" + std::to_string(d.kb) + "__") != std::string::npos,
          "%s: name does not state c%d", d.name, d.kb);
}

}  // namespace

int main() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<const FamilyList*> lists = emulated_lists();
  test_primitives();
  std::printf("emulated instructions vs their definitions: %s\n", g_failures ? "FAILED" : "ok");
  int kernels = 0;
  for (const FamilyList* l : lists)
    for (size_t f = 0; f < l->count; ++f)
    for (int i = 0; i < l->items[f].count; ++i) {
      const KernelDesc& d = *l->items[f].tiles[i];
      const int before = g_failures;
      const auto t1 = std::chrono::steady_clock::now();
      test_name(d);
      if (d.thread_begin) d.thread_begin();  // micro-kernel calls outside the driver
      const bool main_tile = i == 0;  // a family's first tile is its main one
      test_ukernel(d, main_tile);
      if (d.thread_end) d.thread_end();
      test_gemm(d, main_tile);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      std::printf("%-34s %-10s %-6s flush %-5" PRId64 " %s (%.1f s)\n", d.name, d.tier,
                  format_name(d.format),
                  d.format == Format::kFp32 ? int64_t(0)
                                            : flush_period(d, d.format == Format::kQ46
                                                                  ? FormatParams{25, 21}
                                                                  : FormatParams{}),
                  g_failures == before ? "ok" : "FAILED", s);
      ++kernels;
    }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%d kernels, %ld checks, %d failures, %.1f s\n", kernels, g_checks, g_failures, s);
  return g_failures == 0 && kernels > 0 ? 0 : 1;
}
