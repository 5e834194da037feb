// The one registry of kernel variants and the tier rules (docs/architecture.md).
#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "internal.h"

namespace lowbit {

// Each tier translation unit exports its variants.
const KernelList& kernels_scalar();
#if defined(LOWBIT_ARCH_X86)
const KernelList& kernels_avx2();
const KernelList& kernels_avx512();
const KernelList& kernels_avxvnni();
const KernelList& kernels_avx512vnni();
const KernelList& kernels_amx();
#elif defined(LOWBIT_ARCH_AARCH64)
const KernelList& kernels_neon();
const KernelList& kernels_dotprod();
const KernelList& kernels_i8mm();
#endif

const std::vector<TierInfo>& all_tiers() {
  static const std::vector<TierInfo> tiers = {
#if defined(LOWBIT_ARCH_X86)
      {"amx", 60, {"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "amx-tile", "amx-int8"}},
      {"avx512vnni", 50, {"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni"}},
      {"avxvnni", 40, {"avx2", "fma", "avxvnni"}},
      {"avx512", 30, {"avx2", "fma", "avx512f", "avx512bw", "avx512vl"}},
      {"avx2", 20, {"avx2", "fma"}},
#elif defined(LOWBIT_ARCH_AARCH64)
      {"i8mm", 30, {"asimd", "asimddp", "i8mm"}},
      {"dotprod", 20, {"asimd", "asimddp"}},
      {"neon", 10, {"asimd"}},
#endif
      {"scalar", 0, {}},
  };
  return tiers;
}

const TierInfo& tier_info(const std::string& name) {
  for (const auto& t : all_tiers())
    if (name == t.name) return t;
  std::string known;
  for (const auto& t : all_tiers()) known += (known.empty() ? "" : ", ") + std::string(t.name);
  throw std::invalid_argument("unknown tier '" + name + "' (this build knows: " + known + ")");
}

std::vector<const KernelDesc*> all_kernels() {
  static const std::vector<const KernelDesc*> kernels = [] {
    std::vector<const KernelList*> lists = {
#if defined(LOWBIT_ARCH_X86)
        &kernels_amx(), &kernels_avx512vnni(), &kernels_avxvnni(), &kernels_avx512(),
        &kernels_avx2(),
#elif defined(LOWBIT_ARCH_AARCH64)
        &kernels_i8mm(), &kernels_dotprod(), &kernels_neon(),
#endif
        &kernels_scalar(),
    };
    std::vector<const KernelDesc*> out;
    for (const KernelList* l : lists)
      for (size_t i = 0; i < l->count; ++i) {
        const KernelDesc* d = l->items[i];
        if (d->mr * d->nr > 64 * 64) throw std::logic_error("tile too large");
        if (d->ukernel_wide && (d->mr != 1 || d->format != Format::kFp32 || d->wide_panels < 2))
          throw std::logic_error(std::string(d->name) + ": ukernel_wide is for fp32 mr = 1");
        out.push_back(d);
      }
    return out;
  }();
  return kernels;
}

bool tier_runnable(const std::string& tier) {
  const TierInfo& t = tier_info(tier);
  for (const auto& f : t.features)
    if (!cpu_has_feature(f)) return false;
  if (tier == "amx") return amx_permission();
  return true;
}

std::string max_tier_cap() {
  const char* env = std::getenv("LOWBIT_MAX_TIER");
  if (!env || !*env) return "";
  std::string cap = env;
  std::transform(cap.begin(), cap.end(), cap.begin(), ::tolower);
  try {
    tier_info(cap);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("LOWBIT_MAX_TIER: ") + e.what());
  }
  return cap;
}

static bool within_cap(const TierInfo& t, const std::string& cap) {
  if (cap.empty()) return true;
  const TierInfo& c = tier_info(cap);
  for (const auto& f : t.features)
    if (std::find(c.features.begin(), c.features.end(), f) == c.features.end()) return false;
  return true;
}

std::string tier_unavailable_reason(const std::string& tier) {
  const TierInfo& t = tier_info(tier);
  std::vector<std::string> missing;
  for (const auto& f : t.features)
    if (!cpu_has_feature(f)) missing.push_back(f);
  if (!missing.empty()) {
    std::string m;
    for (const auto& f : missing) m += (m.empty() ? "" : ", ") + f;
    return "tier '" + tier + "' cannot run on this CPU (" + cpu_model() + "): missing " + m;
  }
  if (tier == "amx" && !amx_permission())
    return "tier 'amx': the kernel refused the AMX tile-data permission (arch_prctl)";
  const std::string cap = max_tier_cap();
  if (!within_cap(t, cap))
    return "tier '" + tier + "' is disabled by LOWBIT_MAX_TIER=" + cap;
  return "";
}

bool tier_allowed(const std::string& tier) { return tier_unavailable_reason(tier).empty(); }

std::vector<std::string> tiers_for(Format f) {
  std::vector<std::string> out;
  for (const auto& t : all_tiers()) {
    bool has = false;
    for (const KernelDesc* d : all_kernels())
      if (d->format == f && t.name == std::string(d->tier)) has = true;
    if (has && tier_allowed(t.name)) out.push_back(t.name);
  }
  return out;  // all_tiers() is in preference order
}

const KernelDesc& select_kernel(Format f, const std::string& tier) {
  tier_info(tier);  // unknown names first
  const KernelDesc* found = nullptr;
  for (const KernelDesc* d : all_kernels())
    if (d->format == f && tier == d->tier) {
      found = d;
      break;
    }
  if (!found)
    throw std::invalid_argument(std::string("no ") + format_name(f) + " kernel for tier '" +
                                tier + "' in this build");
  const std::string why = tier_unavailable_reason(tier);
  if (!why.empty()) throw std::invalid_argument(why);
  return *found;
}

}  // namespace lowbit
