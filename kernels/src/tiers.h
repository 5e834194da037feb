// C++ view of the tier table (tiers.def).  LOWBIT_FOR_EACH_TIER(X) expands X(name, rank,
// emulated, features, flags) for every row of this build's architecture (and "any"), best
// first.
#pragma once

#define LOWBIT_TIER_ROW_any(...) LOWBIT_TIER_X(__VA_ARGS__)
#if defined(LOWBIT_ARCH_X86)
#define LOWBIT_TIER_ROW_x86(...) LOWBIT_TIER_X(__VA_ARGS__)
#define LOWBIT_TIER_ROW_arm(...)
#elif defined(LOWBIT_ARCH_AARCH64)
#define LOWBIT_TIER_ROW_x86(...)
#define LOWBIT_TIER_ROW_arm(...) LOWBIT_TIER_X(__VA_ARGS__)
#else
#error "define LOWBIT_ARCH_X86 or LOWBIT_ARCH_AARCH64"
#endif
#define LOWBIT_TIER(name, arch, rank, emulated, features, flags) \
  LOWBIT_TIER_ROW_##arch(name, rank, emulated, features, flags)
