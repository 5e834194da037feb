"""The gate's three checks against their baselines, and the verdict of a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from . import armmodel, ratios
from .fingerprint import same_cpu

FAIL, WARN, OK, SKIP = "FAIL", "WARN", "ok", "SKIP"

# callgrind: allowed relative growth of an instruction count, within one toolchain (compiler
# and major version). Measured (ci/README.md, "Tolerances"): one binary's counts move between
# processes by at most 1.2% (typically < 0.3%: malloc paths inside gemm depend on heap state);
# a different compiler (clang 14 against gcc 12, same tree) moves them by -0% to +49%. So 5%
# is four times the process-to-process wobble and still catches an inner-loop regression of a
# few instructions per tile, while a toolchain change is not judged by a tolerance at all:
# the comparison turns advisory until `make baseline` is run with the new compiler.
CALLGRIND_TOLERANCE = 0.05
# ratios: a format must get this much slower against its reference, significantly, to fail.
# Worst drift of a median between unchanged runs on the busy 2-core machine: 16% (README).
RATIO_THRESHOLD = 0.35
RATIO_ALPHA = 0.01
RATIO_NOISY_IQR = 0.30


@dataclass
class Check:
    kind: str          # callgrind | ratio | arm-model
    case: str
    verdict: str
    baseline: object = None
    current: object = None
    change: float | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def toolchain(build: dict | None) -> str:
    """'GNU 12' from the build info's 'GNU 12.2.0' (+ build type, + sanitizers)."""
    build = build or {}
    comp = str(build.get("compiler", "?")).split()
    major = comp[1].split(".")[0] if len(comp) > 1 else ""
    san = " sanitize" if build.get("sanitize") else ""
    return f"{comp[0] if comp else '?'} {major} {build.get('build_type', '')}{san}".strip()


def _tier(kernel: str | None) -> str | None:
    return kernel.rsplit("__", 1)[-1] if kernel and "__" in kernel else None


def check_callgrind(current: dict, baseline: dict | None, build: dict | None = None,
                    tolerance: float = CALLGRIND_TOLERANCE) -> list[Check]:
    if baseline is None:
        return [Check("callgrind", "*", SKIP, note="no baseline for this architecture "
                      "(run `make baseline` and commit ci/baselines/)")]
    out = []
    base_tc = toolchain(baseline.get("fingerprint", {}).get("build"))
    cur_tc = toolchain(build) if build is not None else base_tc
    advisory = cur_tc != base_tc
    if advisory:
        out.append(Check("callgrind", "*", WARN, base_tc, cur_tc, None,
                         "built by another toolchain than the baseline: counts are advisory "
                         "(run `make baseline` with this toolchain and commit it)"))
    base_counts, base_kernels = baseline["counts"], baseline.get("kernels", {})
    for case, count in current["counts"].items():
        kernel = current["kernels"].get(case)
        if case not in base_counts:
            out.append(Check("callgrind", case, WARN, None, count, None,
                             "not in the baseline (refresh with `make baseline`)"))
            continue
        base = base_counts[case]
        change = count / base - 1
        notes = []
        base_kernel = base_kernels.get(case)
        if base_kernel not in (None, kernel):
            notes.append(f"kernel {base_kernel} -> {kernel}")
        if _tier(base_kernel) != _tier(kernel) and base_kernel is not None:
            # Dispatch fell to another tier than the case asks for: wrong on any toolchain.
            verdict = FAIL
            notes.insert(0, f"instruction count {change:+.1%}; ran the {_tier(kernel)} kernel, "
                            f"the baseline ran {_tier(base_kernel)}")
        elif change > tolerance and not advisory:
            verdict = FAIL
            notes.insert(0, f"instruction count +{change:.1%} (> +{tolerance:.0%})")
        elif abs(change) > tolerance and advisory:
            verdict = WARN
            notes.insert(0, f"{change:+.1%} (advisory: other toolchain)")
        elif change < -tolerance:
            verdict = WARN
            notes.insert(0, "fewer instructions than the baseline: refresh it (`make baseline`)")
        else:
            verdict = WARN if notes else OK
        out.append(Check("callgrind", case, verdict, base, count, change, "; ".join(notes)))
    for case in base_counts:
        if case not in current["counts"]:
            out.append(Check("callgrind", case, WARN, base_counts[case], None, None,
                             "in the baseline but not measured"))
    return out


def check_ratios(current: dict, baseline: dict | None, fingerprint: dict,
                 threshold: float = RATIO_THRESHOLD, alpha: float = RATIO_ALPHA,
                 noisy_iqr: float = RATIO_NOISY_IQR, remeasure=None) -> list[Check]:
    """`remeasure(key) -> samples` confirms a failure with a fresh measurement of its group:
    a transient burst of load on a shared machine then fails nothing."""
    if baseline is None:
        return [Check("ratio", "*", SKIP, note="no ratio baseline for this architecture "
                      "(run `make baseline`)")]
    # Ratios between kernels depend on the microarchitecture: only a baseline from the same
    # CPU model can fail the gate; from another one the comparison is advisory.
    comparable = same_cpu(fingerprint, baseline.get("fingerprint", {}))
    out = []
    for key, samples in current["ratios"].items():
        base = baseline["ratios"].get(key)
        if base is None:
            out.append(Check("ratio", key, WARN, None, _median(samples), None,
                             "not in the baseline"))
            continue
        verdict, change, p, note = ratios.judge(samples, base, threshold, alpha, noisy_iqr)
        if verdict == FAIL and remeasure is not None:
            again = ratios.judge(remeasure(key), base, threshold, alpha, noisy_iqr)
            if again[0] != FAIL:
                verdict, note = WARN, f"failed once, not on the repeat ({again[1]:+.1%})"
            else:
                note += f"; confirmed by a repeat ({again[1]:+.1%})"
        note = f"p={p:.2g}" + (f"; {note}" if note else "")
        if verdict != OK and change > 0:
            # A ratio rises when the format slows down or when its reference speeds up.
            note += f"; or {key.split(':')[1].split('/')[0]} got faster"
        if verdict == FAIL and not comparable:
            verdict, note = WARN, note + "; baseline from another CPU model: advisory only"
        out.append(Check("ratio", key, verdict, _median(base), _median(samples), change, note))
    for key, base in baseline["ratios"].items():
        if key not in current["ratios"]:
            out.append(Check("ratio", key, WARN, _median(base), None, None,
                             "in the baseline but not measured (tier not runnable here?)"))
    return out


def check_arm_model(current: dict | None, baseline: dict | None, path: str) -> list[Check]:
    if current is None:
        return [Check("arm-model", "*", SKIP,
                      note=f"{path} not found (produce it with `make arm-model`); check skipped")]
    if baseline is None:
        return [Check("arm-model", "*", SKIP, note="no baseline ci/baselines/arm-model.json "
                      "(run `make baseline` after `make arm-model`)")]
    diffs = armmodel.compare(current, baseline["model"])
    if not diffs:
        n = len(armmodel.flatten(current))
        return [Check("arm-model", "*", OK, note=f"{n} figures identical")]
    return [Check("arm-model", path_, FAIL, b, c, None, "differs from the baseline (exact)")
            for path_, b, c in diffs]


def _median(samples) -> float:
    import numpy as np

    return float(np.median(samples))


def overall(checks: list[Check]) -> str:
    verdicts = {c.verdict for c in checks}
    return FAIL if FAIL in verdicts else WARN if WARN in verdicts else OK
