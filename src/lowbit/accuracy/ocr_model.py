"""The PP-OCRv4 models: fetched from the rapidocr-onnxruntime wheel, cached, and their GEMMs.

Only the two ONNX files are needed, so the wheel is fetched with `pip download --no-deps` (none
of its runtime dependencies, such as OpenCV) and read as a zip.  The files are cached under
LOWBIT_CACHE_DIR (default ./.cache/lowbit, an ignored path) like the digits model and checked
against their SHA-256.  LOWBIT_OCR_WHEEL names a local copy of the wheel to read instead.

`gemm_layers(model, input_shape)` lists every Conv / ConvTranspose / MatMul of a model as the
GEMM lowbit runs for it, with shapes from onnx shape inference at a stated input size (where
its data propagation stops, as at the recogniser's computed Reshape, the shapes come from one
reference-evaluator pass at that size); the
`ppocr` suite of bench/shapes.toml is generated from it (`python -m lowbit.accuracy.ocr_model
--write-suite bench/shapes.toml`, checked by tests/test_ocr.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.bench.atomic import write_bytes, write_text

from .digits_cnn import cache_dir

WHEEL = "rapidocr-onnxruntime==1.4.4"
WHEEL_ENV = "LOWBIT_OCR_WHEEL"
MODELS = {  # file in the wheel's rapidocr_onnxruntime/models/ -> SHA-256
    "rec": ("ch_PP-OCRv4_rec_infer.onnx",
            "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
    "det": ("ch_PP-OCRv4_det_infer.onnx",
            "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
}
# Input sizes the shapes are read at (stated in the suite and the report).
REC_INPUT = (1, 3, 48, 320)  # one text line, PP-OCR's default recogniser input
DET_INPUT = (1, 3, 640, 640)  # one page crop at the detector's usual 640 side


class ModelUnavailable(RuntimeError):
    """The OCR model could not be found or fetched; the message says why and what to do."""


def model_dir() -> Path:
    return cache_dir() / "ppocrv4"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_wheel(dest: Path, timeout: float) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest),
           WHEEL]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelUnavailable(f"`pip download {WHEEL}` failed: {exc}") from exc
    wheels = sorted(dest.glob("rapidocr_onnxruntime-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelUnavailable(f"`pip download --no-deps {WHEEL}` failed (exit "
                               f"{proc.returncode}): {' / '.join(tail) or 'no wheel'}")
    return wheels[0]


def _extract(wheel: Path, out: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as z:
            for name, _sha in MODELS.values():
                member = f"rapidocr_onnxruntime/models/{name}"
                with z.open(member) as src:
                    write_bytes(out / name, src.read())
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelUnavailable(f"cannot read the models from {wheel}: {exc}") from exc


def ensure_models(*, fetch: bool = True, timeout: float = 300.0) -> dict[str, Path]:
    """{"rec": path, "det": path} of verified model files; fetches them once when missing."""
    out = model_dir()
    paths = {k: out / name for k, (name, _) in MODELS.items()}

    def verified() -> bool:
        return all(p.is_file() and _sha256(p) == MODELS[k][1] for k, p in paths.items())

    if verified():
        return paths
    if not fetch:
        raise ModelUnavailable(f"PP-OCRv4 models not in {out} and fetching is disabled")
    out.mkdir(parents=True, exist_ok=True)
    local = os.environ.get(WHEEL_ENV)
    if local:
        if not Path(local).is_file():
            raise ModelUnavailable(f"{WHEEL_ENV}={local} is not a file")
        _extract(Path(local), out)
    else:
        with tempfile.TemporaryDirectory(prefix="lowbit-ocr-") as tmp:
            _extract(_download_wheel(Path(tmp), timeout), out)
    if not verified():
        bad = [p.name for k, p in paths.items() if not p.is_file() or _sha256(p) != MODELS[k][1]]
        raise ModelUnavailable(f"model files {bad} do not match their SHA-256 (a different "
                               f"wheel than {WHEEL}?)")
    return paths


def characters(model) -> list[str]:
    """CTC classes of the recogniser: blank, the model's `character` metadata, then space."""
    meta = {p.key: p.value for p in model.metadata_props}
    if "character" not in meta:
        raise ValueError("the recogniser has no `character` metadata")
    return ["<blank>"] + meta["character"].split("\n") + [" "]


# -- GEMM shapes --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Gemm:
    """One Conv / ConvTranspose / MatMul node as the GEMM(s) lowbit runs for it."""

    node: str
    op: str
    M: int
    K: int
    N: int
    groups: int = 1  # grouped conv: `groups` GEMMs of (M, K, N), one per group
    batch: int = 1  # activation x activation MatMul: `batch` GEMMs (heads)
    constant_weight: bool = True

    @property
    def count(self) -> int:
        return self.groups * self.batch

    @property
    def macs(self) -> int:
        return self.M * self.K * self.N * self.count


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def gemm_layers(model, input_shape) -> list[Gemm]:
    """The GEMMs of every Conv / ConvTranspose / MatMul at a fixed input shape (shape inference)."""
    import onnx
    from onnx import shape_inference

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inp = m.graph.input[0]
    for d, v in zip(inp.type.tensor_type.shape.dim, input_shape):
        d.Clear()
        d.dim_value = int(v)
    m = shape_inference.infer_shapes(m, data_prop=True)
    shapes = {}
    for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    init = {t.name: list(t.dims) for t in m.graph.initializer}
    init.update({n.output[0]: list(n.attribute[0].t.dims) for n in m.graph.node
                 if n.op_type == "Constant"})
    shapes.update(init)

    def known(*names) -> bool:
        return all(shapes.get(k) and None not in shapes[k] for k in names)

    gemms = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "MatMul")]
    if not all(known(n.input[0], n.input[1], n.output[0]) for n in gemms):
        # onnx's data propagation stops at a Reshape whose target shape is computed (the
        # recogniser's neck): complete the missing shapes from one reference-evaluator pass.
        shapes.update(_evaluated_shapes(model, input_shape))
    out = []
    for n in gemms:
        a, b, y = shapes.get(n.input[0]), shapes.get(n.input[1]), shapes.get(n.output[0])
        if not a or not b or not y or None in a + b + y:
            raise ValueError(f"no shapes for {n.name} ({n.op_type}): {a} x {b} -> {y}")
        if n.op_type == "Conv":
            g = int(_attrs(n).get("group", 1))
            cout, cin_g, kh, kw = b
            out.append(Gemm(n.name, "Conv", y[0] * y[2] * y[3], cin_g * kh * kw, cout // g, g))
        elif n.op_type == "ConvTranspose":
            g = int(_attrs(n).get("group", 1))
            cin, cout_g, kh, kw = b
            # col2im form: input pixels x Cin/g -> Cout/g * kh * kw columns per group
            out.append(Gemm(n.name, "ConvTranspose", a[0] * a[2] * a[3], cin // g,
                            cout_g * kh * kw, g))
        else:
            batch = int(np.prod(a[:-2])) if len(b) > 2 else 1
            rows = int(np.prod(a[:-1])) if len(b) == 2 else a[-2]
            out.append(Gemm(n.name, "MatMul", rows, a[-1], b[-1], 1, batch,
                            n.input[1] in init))
    return out


def _evaluated_shapes(model, input_shape) -> dict:
    """{tensor: shape} of every tensor, from running the model on zeros of input_shape."""
    from .ocr_exec import LowbitExecutor, Plan

    ev = LowbitExecutor(model, Plan()).evaluator
    inter = ev.run(None, {model.graph.input[0].name: np.zeros(input_shape, np.float32)},
                   intermediate=True)
    return {k: list(np.shape(v)) for k, v in inter.items()}


def suite_toml(rec_layers: list[Gemm], det_layers: list[Gemm]) -> str:
    """The `ppocr` suite of bench/shapes.toml: unique (M, K, N) per model with layer counts."""
    lines = [
        "",
        "# ---- ppocr: generated by `python -m lowbit.accuracy.ocr_model --write-suite "
        "bench/shapes.toml`; do not edit by hand (tests/test_ocr.py checks it). ----",
        "# PP-OCRv4 (rapidocr-onnxruntime 1.4.4 wheel) GEMMs from onnx shape inference: "
        f"recogniser at input {'x'.join(map(str, REC_INPUT))}, detector at "
        f"{'x'.join(map(str, DET_INPUT))}.",
        "# Conv = im2col GEMM (M = output pixels, K = Cin/groups*kh*kw, N = Cout/groups); "
        "grouped/depthwise convs run one GEMM per group, so `count` includes the groups.",
        "# ConvTranspose = col2im GEMM (M = input pixels, K = Cin, N = Cout*kh*kw); "
        "attention MatMuls count one GEMM per head.",
        "[suite.ppocr]",
        'description = "PP-OCRv4 text recogniser and detector GEMMs (batch 1)"',
        "budget_s = 0.1",
    ]
    for model, layers, size in (("rec", rec_layers, REC_INPUT), ("det", det_layers, DET_INPUT)):
        groups: dict[tuple, list[Gemm]] = {}
        for g in layers:
            groups.setdefault((g.M, g.K, g.N), []).append(g)
        for (m, k, n), gs in groups.items():
            ops = sorted({g.op + (f" groups={g.groups}" if g.groups > 1 else "")
                          + (f" x{g.batch} heads" if g.batch > 1 else "") for g in gs})
            lines += [
                "",
                "[[shape]]",
                f'name = "ppocr.{model}.m{m}_k{k}_n{n}"',
                f"M = {m}",
                f"N = {n}",
                f"K = {k}",
                f"count = {sum(g.count for g in gs)}",
                'suites = ["ppocr"]',
                f'source = "PP-OCRv4 {model} at {"x".join(map(str, size))}: '
                f'{len(gs)} node(s), {"; ".join(ops)}"',
            ]
    return "\n".join(lines) + "\n"


SUITE_MARK = "# ---- ppocr: generated by"


def write_suite(catalog: Path) -> str:
    """Replace (or append) the generated ppocr block at the end of the catalog."""
    import onnx

    paths = ensure_models()
    block = suite_toml(gemm_layers(onnx.load(paths["rec"]), REC_INPUT),
                       gemm_layers(onnx.load(paths["det"]), DET_INPUT))
    text = catalog.read_text(encoding="utf-8")
    i = text.find("\n" + SUITE_MARK)
    head = text if i < 0 else text[:i]
    new = head.rstrip("\n") + "\n" + block
    write_text(catalog, new)
    return block


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PP-OCRv4 models: fetch, list GEMMs, write suite")
    ap.add_argument("--write-suite", metavar="SHAPES_TOML",
                    help="replace the generated ppocr suite at the end of this catalog")
    args = ap.parse_args(argv)
    if args.write_suite:
        write_suite(Path(args.write_suite))
        print(f"wrote the ppocr suite into {args.write_suite}")
    else:
        for k, p in ensure_models().items():
            print(k, p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
