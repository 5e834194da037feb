// aarch64 runtime CPU detection: the kernel's hwcaps (getauxval), which are also what
// QEMU user mode reports for its emulated CPU model (QEMU_CPU=cortex-a72 has neither
// dotprod nor i8mm, QEMU_CPU=max has both), so tier dispatch can be tested under emulation.
#if defined(__aarch64__)

#include <sys/auxv.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "internal.h"

// Bit numbers from the Linux uapi <asm/hwcap.h>; spelled out for older headers.
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_CPUID
#define HWCAP_CPUID (1UL << 11)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif

namespace lowbit {
namespace {

struct ArmFeatures {
  std::vector<std::string> names;
  std::string model;
};

// MIDR_EL1 part numbers of the cores the suite talks about (Arm Ltd., implementer 0x41).
const char* arm_part_name(unsigned part) {
  switch (part) {
    case 0xd03: return "Cortex-A53";
    case 0xd04: return "Cortex-A35";
    case 0xd05: return "Cortex-A55";
    case 0xd07: return "Cortex-A57";
    case 0xd08: return "Cortex-A72";
    case 0xd09: return "Cortex-A73";
    case 0xd0a: return "Cortex-A75";
    case 0xd0b: return "Cortex-A76";
    case 0xd0c: return "Neoverse-N1";
    case 0xd0d: return "Cortex-A77";
    case 0xd40: return "Neoverse-V1";
    case 0xd41: return "Cortex-A78";
    case 0xd44: return "Cortex-X1";
    case 0xd46: return "Cortex-A510";
    case 0xd47: return "Cortex-A710";
    case 0xd49: return "Neoverse-N2";
    case 0xd4f: return "Neoverse-V2";
    default: return nullptr;
  }
}

std::string describe_midr(unsigned implementer, unsigned part) {
  if (implementer == 0x41)
    if (const char* n = arm_part_name(part)) return n;
  char buf[64];
  std::snprintf(buf, sizeof buf, "aarch64 (implementer 0x%02x, part 0x%03x)", implementer, part);
  return buf;
}

// "CPU implementer" / "CPU part" of the first core in /proc/cpuinfo; empty when absent
// (QEMU user mode shows the host's file).
std::string model_from_cpuinfo() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  long implementer = -1, part = -1;
  while (std::getline(f, line)) {
    auto value = [&](const char* key) -> long {
      if (line.compare(0, std::strlen(key), key) != 0) return -1;
      const auto colon = line.find(':');
      return colon == std::string::npos ? -1 : std::strtol(line.c_str() + colon + 1, nullptr, 0);
    };
    if (implementer < 0) implementer = value("CPU implementer");
    if (part < 0) part = value("CPU part");
    if (implementer >= 0 && part >= 0) return describe_midr(unsigned(implementer), unsigned(part));
  }
  return "";
}

ArmFeatures detect() {
  ArmFeatures f;
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  if (hw & HWCAP_ASIMD) f.names.push_back("asimd");
  if (hw & HWCAP_ASIMDDP) f.names.push_back("asimddp");
  if (hw2 & HWCAP2_I8MM) f.names.push_back("i8mm");
  f.model = model_from_cpuinfo();
  if (f.model.empty() && (hw & HWCAP_CPUID)) {
    // The kernel (and QEMU) emulate EL0 reads of MIDR_EL1 when HWCAP_CPUID is set.
    uint64_t midr;
    asm volatile("mrs %0, midr_el1" : "=r"(midr));
    f.model = describe_midr(unsigned(midr >> 24) & 0xff, unsigned(midr >> 4) & 0xfff);
  }
  if (f.model.empty()) f.model = "aarch64 (unknown core)";
  return f;
}

const ArmFeatures& features() {
  static const ArmFeatures f = detect();
  return f;
}

}  // namespace

bool cpu_has_feature(const std::string& name) {
  for (const auto& n : features().names)
    if (n == name) return true;
  return false;
}

std::vector<std::string> cpu_feature_list() { return features().names; }
std::string cpu_model() { return features().model; }
std::string cpu_arch() { return "aarch64"; }

// AMX is x86-only; registry.cpp asks for it by name only for the `amx` tier, which an
// aarch64 build does not list, but the symbol must exist.
bool amx_permission() { return false; }

}  // namespace lowbit

#endif  // __aarch64__
