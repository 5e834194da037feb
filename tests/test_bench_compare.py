"""compare: ratios and significance on synthetic samples with known truth."""

import numpy as np
import pytest

pytest.importorskip("scipy")  # the [bench] extra; not in every test environment
pytest.importorskip("tabulate")

from benchdocs import bench, doc  # noqa: E402

from lowbit.bench import results as R  # noqa: E402
from lowbit.bench.cli import main  # noqa: E402
from lowbit.bench.compare import IMPROVEMENT, REGRESSION, SAME, compare_docs, compare_samples  # noqa: E402


def samples(median, n, rel_noise, seed):
    rng = np.random.default_rng(seed)
    return list(median * (1 + rel_noise * rng.standard_normal(n)).clip(0.5))


def test_clear_slowdown_is_a_significant_regression():
    a, b = samples(1e-3, 20, 0.02, 1), samples(1.3e-3, 20, 0.02, 2)
    ma, mb, ratio, p, ci, verdict = compare_samples(a, b)
    assert verdict == REGRESSION
    assert p < 0.05
    assert ratio == pytest.approx(1.3, rel=0.03)
    assert ci[0] <= ratio <= ci[1] and ci[0] > 1.2


def test_clear_speedup_is_an_improvement():
    assert compare_samples(samples(1e-3, 20, 0.02, 3), samples(0.7e-3, 20, 0.02, 4))[-1] \
        == IMPROVEMENT


def test_same_distribution_is_not_flagged():
    verdict = compare_samples(samples(1e-3, 30, 0.05, 5), samples(1e-3, 30, 0.05, 6))[-1]
    assert verdict == SAME


def test_significant_but_tiny_change_is_below_threshold():
    # 2% slower with almost no noise: significant, but under the 5% threshold.
    a, b = samples(1e-3, 30, 0.001, 7), samples(1.02e-3, 30, 0.001, 8)
    _, _, _, p, _, verdict = compare_samples(a, b, threshold=0.05)
    assert p < 0.05 and verdict == SAME
    assert compare_samples(a, b, threshold=0.01)[-1] == REGRESSION


def test_three_samples_a_side_can_never_be_significant():
    # Mann-Whitney U with 3 vs 3 cannot go below p = 0.1: why runs take >= 5 samples.
    _, _, ratio, p, _, verdict = compare_samples([1.0, 1.01, 1.02], [2.0, 2.01, 2.02])
    assert ratio > 1.9 and p >= 0.1 and verdict == SAME


def _doc(medians, seed):
    bs = []
    for i, (fmt, med) in enumerate(medians.items()):
        b = bench("lowbit", fmt, "avx2", 8, 8, 8, 1.0)
        b["stats"]["data"] = samples(med, 15, 0.01, seed + i)
        b["stats"]["median"] = float(np.median(b["stats"]["data"]))
        bs.append(b)
    return doc(bs)


def test_compare_docs_matches_cases_and_cli_fails_on_regression(tmp_path, capsys):
    a = _doc({"fp32": 1e-3, "int8": 1e-3, "int4": 1e-3}, 10)
    b = _doc({"fp32": 1e-3, "int8": 2e-3, "4.6bit": 1e-3}, 20)
    comps, only_a, only_b = compare_docs(a, b)
    verdicts = {c.key.split("-")[0]: c.verdict for c in comps}
    assert verdicts == {"fp32": SAME, "int8": REGRESSION}
    assert only_a == ["int4-avx2-8x8x8-t1"] and only_b == ["4.6bit-avx2-8x8x8-t1"]

    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    R.write(pa, a)
    R.write(pb, b)
    assert main(["compare", str(pa), str(pb)]) == 0
    assert main(["compare", str(pa), str(pb), "--fail-on-regression",
                 "--out", str(tmp_path / "c.md")]) == 1
    md = (tmp_path / "c.md").read_text()
    assert "REGRESSION" in md and "1 significant regression" in md
    assert main(["compare", str(pa), str(pa), "--fail-on-regression"]) == 0
    assert main(["compare", str(pa), str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("args", [["--alpha", "0"], ["--alpha", "1"], ["--alpha", "nan"],
                                  ["--alpha", "-0.1"], ["--threshold", "-1"],
                                  ["--threshold", "nan"], ["--threshold", "inf"]])
def test_bad_compare_options_are_rejected(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "a.json", "b.json", *args])
    assert exc.value.code == 2
    assert "expected a" in capsys.readouterr().err
