"""The shape catalog: the real file's contents and the parser's error handling."""

from pathlib import Path

import pytest

from lowbit.bench.catalog import CatalogError, load_catalog, parse_catalog

CATALOG = Path(__file__).resolve().parents[1] / "bench" / "shapes.toml"


@pytest.fixture(scope="module")
def cat():
    return load_catalog(CATALOG)


def dims(shapes):
    return {(s.M, s.N, s.K) for s in shapes}


def test_every_suite_is_nonempty_and_names_are_unique(cat):
    for suite in ("square", "cnn", "llm", "deepbench", "quick", "default"):
        assert cat.suite(suite), suite
    names = [s.name for s in cat.shapes]
    assert len(names) == len(set(names))


def test_square_sweep(cat):
    assert dims(cat.suite("square")) == {(n, n, n) for n in (64, 128, 256, 512, 1024, 2048)}


def test_llm_shapes(cat):
    want = {(m, n, k) for (n, k) in ((4096, 4096), (11008, 4096), (4096, 11008))
            for m in (1, 8, 64, 512)}
    assert dims(cat.suite("llm")) == want


def test_resnet18_layers_are_named_im2col_gemms(cat):
    by_name = {s.name: s for s in cat.suite("cnn")}
    assert by_name["resnet18.layer1.conv"].dims == (3136, 64, 576)
    assert by_name["resnet18.conv1"].dims == (112 * 112, 64, 3 * 7 * 7)
    assert by_name["resnet18.fc"].dims == (1, 1000, 512)
    # 3x3 convs: K = 9 * C_in; every ResNet-18 conv layer is covered once counted.
    convs = [s for s in cat.suite("cnn")
             if s.name.startswith("resnet18.") and s.name != "resnet18.fc"]
    assert sum(s.count for s in convs) == 20  # 1 stem + 16 block convs + 3 downsamples
    assert any(s.name.startswith("mobilenet_v1.") for s in cat.suite("cnn"))
    assert any(s.name.startswith("cifar_cnn.") for s in cat.suite("cnn"))


def test_deepbench_inference_device_set(cat):
    db = cat.suite("deepbench")
    assert len(db) == 13
    # DeepBench (m, n, k) = (5124, 700, 2048) is our M=n, N=m, K=k.
    assert (700, 5124, 2048) in dims(db)
    assert (1, 4224, 128) in dims(db)


def test_quick_is_small_and_drawn_from_source_suites(cat):
    quick = cat.suite("quick")
    assert 3 <= len(quick) <= 8
    assert all(cat.groups(s) for s in quick)
    assert sum(s.ops for s in quick) < 2e9


def test_unknown_suite_raises(cat):
    with pytest.raises(CatalogError, match="unknown suite"):
        cat.suite("nope")


def _doc(**shape):
    base = {"name": "a", "M": 1, "N": 2, "K": 3, "suites": ["s"], "source": "x"}
    base.update(shape)
    return {"suite": {"s": {}}, "shape": [base]}


@pytest.mark.parametrize("bad, match", [
    ({"M": 0}, "M must be a positive integer"),
    ({"K": "3"}, "K must be a positive integer"),
    ({"suites": []}, "suites"),
    ({"suites": ["other"]}, "no \\[suite"),
    ({"source": ""}, "source"),
    ({"extra": 1}, "unknown keys"),
])
def test_parse_rejects_bad_entries(bad, match):
    with pytest.raises(CatalogError, match=match):
        parse_catalog(_doc(**bad))


def test_parse_rejects_duplicates_and_empty():
    d = _doc()
    d["shape"].append(dict(d["shape"][0]))
    with pytest.raises(CatalogError, match="duplicate"):
        parse_catalog(d)
    with pytest.raises(CatalogError, match="no \\[\\[shape"):
        parse_catalog({"suite": {}})


def test_bad_toml_is_a_catalog_error(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[[shape]\nname=")
    with pytest.raises(CatalogError):
        load_catalog(p)
