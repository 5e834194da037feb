// The one registry of kernel variants and the tier rules (docs/architecture.md).
#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <mutex>

#include "internal.h"
#include "tiers.h"

namespace lowbit {

// Each tier translation unit exports its families: kernels_<name>() for every row of the
// tier table (tiers.def) of this architecture.
#define LOWBIT_TIER_X(name, rank, emulated, features, flags) const FamilyList& kernels_##name();
#include "tiers.def"
#undef LOWBIT_TIER_X

namespace {

std::vector<std::string> split_words(const char* s) {
  std::vector<std::string> out;
  std::string w;
  for (const char* p = s;; ++p) {
    if (*p == ' ' || *p == 0) {
      if (!w.empty()) out.push_back(w);
      w.clear();
      if (*p == 0) return out;
    } else {
      w += *p;
    }
  }
}

}  // namespace

const std::vector<TierInfo>& all_tiers() {
  static const std::vector<TierInfo> tiers = {
#define LOWBIT_TIER_X(name, rank, emulated, features, flags) \
  {#name, rank, split_words(features), flags},
#include "tiers.def"
#undef LOWBIT_TIER_X
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

namespace {

// The tiles of a family read one packed B (KernelFamily): checked once, here.
void check_family(const KernelFamily& f) {
  const KernelDesc& m = f.main();
  for (int i = 0; i < f.count; ++i) {
    const KernelDesc* d = f.tiles[i];
    const std::string who = std::string(d->name) + " (family of " + m.name + "): ";
    if (d->mr * d->nr > 64 * 64 || d->mr > KernelFamily::kMaxMR)
      throw std::logic_error(who + "tile too large");
    if (d->ukernel_wide && (d->mr != 1 || d->format != Format::kFp32 || d->wide_panels < 2))
      throw std::logic_error(who + "ukernel_wide is for fp32 mr = 1");
    if (d->format != m.format || std::string(d->tier) != m.tier || d->nr != m.nr ||
        d->kb != m.kb || d->a_elem != m.a_elem || d->b_elem != m.b_elem ||
        d->a_offset != m.a_offset || d->b_offset != m.b_offset)
      throw std::logic_error(who + "does not read the family's packed B");
    // A is packed per call in each tile's own layout; a shorter tile's depth padding must
    // divide a taller one's (it never reads past the packed B's Kp).
    for (int j = 0; j < f.count; ++j) {
      const KernelDesc* e = f.tiles[j];
      if (e != d && e->mr == d->mr) throw std::logic_error(who + "two tiles of one height");
      if (e->mr > d->mr && e->kpad() % d->kpad() != 0)
        throw std::logic_error(who + "kpad does not divide " + e->name + "'s");
    }
    if (i > 0 && d->mr >= m.mr) throw std::logic_error(who + "taller than the main tile");
  }
}

}  // namespace

const std::vector<const KernelFamily*>& all_families() {
  static const std::vector<const KernelFamily*> families = [] {
    const std::vector<const FamilyList*> lists = {
#define LOWBIT_TIER_X(name, rank, emulated, features, flags) &kernels_##name(),
#include "tiers.def"
#undef LOWBIT_TIER_X
    };
    std::vector<const KernelFamily*> out;
    for (const FamilyList* l : lists)
      for (size_t i = 0; i < l->count; ++i) {
        check_family(l->items[i]);
        out.push_back(&l->items[i]);
      }
    return out;
  }();
  return families;
}

std::vector<const KernelDesc*> all_kernels() {
  std::vector<const KernelDesc*> out;
  for (const KernelFamily* f : all_families())
    for (int i = 0; i < f->count; ++i) out.push_back(f->tiles[i]);
  return out;
}

FamilyTile family_of(const KernelDesc& d) {
  for (const KernelFamily* f : all_families())
    for (int i = 0; i < f->count; ++i)
      if (f->tiles[i] == &d) return {f, i};
  throw std::logic_error(std::string(d.name) + ": in no family of the registry");
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
    for (const KernelFamily* k : all_families())
      if (k->main().format == f && t.name == std::string(k->main().tier)) has = true;
    if (has && tier_allowed(t.name)) out.push_back(t.name);
  }
  return out;  // all_tiers() is in preference order
}

const KernelFamily& select_family(Format f, const std::string& tier) {
  tier_info(tier);  // unknown names first
  const KernelFamily* found = nullptr;
  for (const KernelFamily* k : all_families())
    if (k->main().format == f && tier == k->main().tier) {
      found = k;
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
