// x86-64 runtime CPU detection: cpuid + xgetbv (the OS must enable the register state),
// and the Linux AMX tile-data permission request.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "internal.h"

namespace lowbit {
namespace {

struct X86Features {
  std::vector<std::string> names;
  std::string model;
};

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

X86Features detect() {
  X86Features f;
  unsigned a, b, c, d;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 1) return f;
  __cpuid(1, a, b, c, d);
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12), avx = c & (1u << 28);
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = (xcr0 & 0xE6) == 0xE6;
  const bool amx_os = (xcr0 & (3ull << 17)) == (3ull << 17);
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b7, c7, d7);
    unsigned bb, cc, dd;
    __cpuid_count(7, 1, a71, bb, cc, dd);
  }
  auto add = [&](bool ok, const char* n) {
    if (ok) f.names.push_back(n);
  };
  add(avx && ymm_os, "avx");
  add(avx && ymm_os && (b7 & (1u << 5)), "avx2");
  add(fma && ymm_os, "fma");
  add(zmm_os && (b7 & (1u << 16)), "avx512f");
  add(zmm_os && (b7 & (1u << 30)), "avx512bw");
  add(zmm_os && (b7 & (1u << 31)), "avx512vl");
  add(zmm_os && (c7 & (1u << 11)), "avx512vnni");
  add(ymm_os && (a71 & (1u << 4)), "avxvnni");
  add(amx_os && (d7 & (1u << 24)), "amx-tile");
  add(amx_os && (d7 & (1u << 25)), "amx-int8");

  char brand[49] = {0};
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __cpuid(0x80000002 + leaf, a, b, c, d);
      std::memcpy(brand + 16 * leaf, &a, 4);
      std::memcpy(brand + 16 * leaf + 4, &b, 4);
      std::memcpy(brand + 16 * leaf + 8, &c, 4);
      std::memcpy(brand + 16 * leaf + 12, &d, 4);
    }
  }
  f.model = brand;
  while (!f.model.empty() && f.model.back() == ' ') f.model.pop_back();
  f.model.erase(0, f.model.find_first_not_of(' '));
  return f;
}

const X86Features& features() {
  static const X86Features f = detect();
  return f;
}

}  // namespace

bool cpu_has_feature(const std::string& name) {
  const auto& n = features().names;
  return std::find(n.begin(), n.end(), name) != n.end();
}

std::vector<std::string> cpu_feature_list() { return features().names; }
std::string cpu_model() { return features().model.empty() ? "unknown x86-64" : features().model; }
std::string cpu_arch() { return "x86_64"; }

bool amx_permission() {
  // Linux keeps the 8 KiB tile state off until a process asks (ARCH_REQ_XCOMP_PERM for
  // XFEATURE_XTILEDATA); without it the first tile instruction raises SIGILL.
  static const bool granted = [] {
    if (!cpu_has_feature("amx-tile") || !cpu_has_feature("amx-int8")) return false;
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
}

}  // namespace lowbit
