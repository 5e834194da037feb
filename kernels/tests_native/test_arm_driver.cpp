// End-to-end check of the aarch64 variants through the library's own packing and driver
// (kernels/src/pack.cpp, driver.cpp), without Python: for every aarch64 variant this CPU
// can run, random shapes (edge tiles, K past the flush period so the driver splits the depth
// and calls with accumulate = 1, M below mr so small-M companions are picked) and random
// zero points, compared with an int64 reference of (x - zx)(w - zw); fp32 against a double
// reference within a relative tolerance.  Prints "N passed, N failed".
//
// Built and run by make arm-native-test next to test_arm_kernels.cpp.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "internal.h"

using namespace lowbit;

namespace {

int g_pass = 0, g_fail = 0;

struct Shape {
  int64_t M, K, N;
};

void check(bool ok, const KernelDesc& d, const std::string& what) {
  if (ok) {
    ++g_pass;
  } else {
    ++g_fail;
    std::printf("FAIL %s: %s\n", d.name, what.c_str());
  }
}

void run_int(const KernelDesc& d, const FormatParams& p, Shape s, int threads, std::mt19937& rng) {
  const FormatRanges r = format_ranges(d.format, p);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<uint8_t> x(size_t(s.M * s.K));
  for (auto& v : x) v = uint8_t(uni(r.x_min, r.x_max));
  std::vector<int> wv(size_t(s.K * s.N));
  for (auto& v : wv) v = uni(r.w_min, r.w_max);
  std::vector<int8_t> w8(wv.begin(), wv.end());
  std::vector<uint8_t> wu(wv.begin(), wv.end());
  const void* w = d.format == Format::kInt4 ? static_cast<const void*>(wu.data()) : w8.data();
  const int zx = uni(r.zx_min, r.zx_max), zw = uni(r.zw_min, r.zw_max);
  const FamilyTile ft = family_of(d);
  auto pb = pack_b(*ft.family, ft.tile, w, s.K, s.N, s.N, zw, p);
  std::vector<int32_t> c(size_t(s.M * s.N), 0x7f7f7f7f);
  gemm(*pb, x.data(), s.M, s.K, zx, c.data(), s.N, threads);
  bool ok = true;
  for (int64_t i = 0; i < s.M && ok; ++i)
    for (int64_t j = 0; j < s.N; ++j) {
      int64_t want = 0;
      for (int64_t k = 0; k < s.K; ++k)
        want += int64_t(x[size_t(i * s.K + k)] - zx) * (wv[size_t(k * s.N + j)] - zw);
      if (want != c[size_t(i * s.N + j)]) {
        ok = false;
        break;
      }
    }
  check(ok, d, "M=" + std::to_string(s.M) + " K=" + std::to_string(s.K) + " N=" +
                   std::to_string(s.N) + " zx=" + std::to_string(zx) + " zw=" + std::to_string(zw) +
                   " threads=" + std::to_string(threads));
}

void run_f32(const KernelDesc& d, Shape s, int threads, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(size_t(s.M * s.K)), w(size_t(s.K * s.N));
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = nd(rng);
  const FamilyTile ft = family_of(d);
  auto pb = pack_b(*ft.family, ft.tile, w.data(), s.K, s.N, s.N, 0, {});
  std::vector<float> c(size_t(s.M * s.N), NAN);
  gemm(*pb, x.data(), s.M, s.K, 0, c.data(), s.N, threads);
  bool ok = true;
  for (int64_t i = 0; i < s.M; ++i)
    for (int64_t j = 0; j < s.N; ++j) {
      double want = 0, mag = 0;
      for (int64_t k = 0; k < s.K; ++k) {
        want += double(x[size_t(i * s.K + k)]) * w[size_t(k * s.N + j)];
        mag += std::fabs(double(x[size_t(i * s.K + k)]) * w[size_t(k * s.N + j)]);
      }
      if (!(std::fabs(c[size_t(i * s.N + j)] - want) <= 1e-5 * mag + 1e-6)) ok = false;
    }
  check(ok, d, "M=" + std::to_string(s.M) + " K=" + std::to_string(s.K) + " N=" +
                   std::to_string(s.N) + " threads=" + std::to_string(threads));
}

}  // namespace

int main() {
  std::printf("cpu: %s, features:", cpu_model().c_str());
  for (const auto& f : cpu_feature_list()) std::printf(" %s", f.c_str());
  std::printf("\n");
  std::mt19937 rng(651);
  int variants = 0;
  for (const KernelDesc* d : all_kernels()) {
    if (std::string(d->tier) == "scalar") continue;
    if (!tier_runnable(d->tier)) {
      std::printf("%-28s skipped: tier %s not runnable here\n", d->name, d->tier);
      continue;
    }
    ++variants;
    const int before = g_fail;
    const int64_t mr = d->mr, nr = d->nr;
    const std::vector<Shape> shapes = {
        {1, 1, 1}, {mr, d->kpad(), nr}, {mr + 1, 37, 2 * nr + 3}, {3, 300, nr - 1 > 0 ? nr - 1 : 1},
        {2 * mr + 3, 700, nr + 5}, {1, 1000, 3 * nr}};
    std::vector<FormatParams> params = {{}};
    if (d->format == Format::kQ46) params = {{25, 21}, {29, 19}, {23, 23}, {255, 3}};
    for (const FormatParams& p : params)
      for (const Shape& s : shapes)
        for (int threads : {1, 2}) {
          if (d->format == Format::kFp32)
            run_f32(*d, s, threads, rng);
          else
            run_int(*d, normalize_params(d->format, p), s, threads, rng);
        }
    std::printf("%-28s %-8s %s\n", d->name, d->tier, g_fail == before ? "ok" : "FAILED");
  }
  if (variants == 0) ++g_fail;
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
