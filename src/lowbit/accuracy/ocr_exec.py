"""PP-OCRv4 through the lowbit kernels: onnx's reference evaluator with Conv and MatMul replaced.

`LowbitExecutor(model, plan)` wraps `onnx.reference.ReferenceEvaluator(model, new_ops=[Conv,
MatMul])`: every other op runs in onnx's own (numpy, float32) implementation, and every Conv
(as an im2col GEMM, one kernel call per group) and every MatMul is computed by lowbit.matmul
through `lowbit.nn.QuantLinear` in the plan's format:

- activations per tensor with static scales from calibration (`plan.act_qparams`), weights
  per output channel or per tensor (plan.per_channel), min-max or MMSE (plan.w_method);
- the two attention products (activation x activation MatMuls) quantize their right operand
  per call and per head like a weight tensor, the left one like any activation;
- the layers in `plan.float_layers` (the papers keep the first and last in float) and every
  layer of an fp32 plan run on lowbit's fp32 kernel.

A plan with `record=True` stores a sample of every Conv/MatMul input (activation calibration)
and the GEMM shapes it ran.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace

import numpy as np
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun
from onnx.reference.ops.op_batch_normalization import _batchnorm_test_mode

from lowbit.nn import QuantLinear
from lowbit.quant import QTensor
from lowbit.quant.schemes import scheme

SAMPLE = 1 << 15  # calibration values kept per layer and batch (plus the exact min and max)


@dataclass
class Plan:
    """How one case runs: format, calibration, float layers, residual layers."""

    fmt: str = "fp32"
    params: dict = field(default_factory=dict)  # format parameters (4.6bit levels, DyBit bits)
    w_method: str = "minmax"
    per_channel: bool = False
    grid: int = 32
    float_layers: frozenset = frozenset()
    residual_layers: frozenset = frozenset()  # layers with a second (residual) weight tensor
    act_qparams: dict = field(default_factory=dict)  # node -> (scale, zero_point, signed)
    # "kernel": depthwise convs as one kernel call per channel (im2col, N = 1); "numpy": the
    # same integers multiplied and summed exactly in numpy (bit-identical, tested; ~10x faster)
    depthwise: str = "kernel"
    # "kernel": one QuantLinear (weight calibration, packing, kernel call) per attention item
    # and head; "numpy": attention_exact, the same numbers with one vectorised calibration
    attention: str = "kernel"
    record: bool = False
    samples: dict = field(default_factory=dict)  # node -> [sample arrays] (record=True)
    shapes: dict = field(default_factory=dict)  # node -> (M, K, N, groups, batch, const W)
    layers: dict = field(default_factory=dict)  # node -> QuantLinear (built on first use)

    def quantized(self, node: str) -> bool:
        return self.fmt != "fp32" and node not in self.float_layers

    def linear(self, node: str, w2: np.ndarray, bias, groups: int = 1) -> QuantLinear:
        lin = self.layers.get(node)
        if lin is None:
            lin = self.layers[node] = self.make(node, w2, bias, groups)
        return lin

    def make(self, node, w2, bias, groups=1, *, residual: bool = True) -> QuantLinear:
        """The node's QuantLinear: static activation scales, the plan's weight calibration."""
        if not self.quantized(node):
            return QuantLinear(w2, bias, "fp32", groups=groups)
        s, z, signed = self.act_qparams[node]
        kw = dict(w_method=self.w_method, per_channel=self.per_channel, grid=self.grid,
                  groups=groups, act_qparams=(s, z), **self.params)
        if self.fmt == "dybit":
            kw["act_signed"] = bool(signed)
        if residual and node in self.residual_layers:
            kw["residual_budget"] = 1.0
        return QuantLinear(w2, bias, self.fmt, **kw)

    def observe(self, node: str, x: np.ndarray, shape: tuple | None) -> None:
        if shape is not None:
            self.shapes.setdefault(node, shape)
        if not self.record:
            return
        flat = np.asarray(x, np.float32).reshape(-1)
        rng = np.random.default_rng(len(self.samples.get(node, ())))
        pick = flat if flat.size <= SAMPLE else flat[rng.integers(0, flat.size, SAMPLE)]
        self.samples.setdefault(node, []).append(
            np.concatenate([pick, [flat.min(), flat.max()]]))


CHUNK = 1 << 16  # elements per block of the activation quantizer (float64 temporaries ~512 KiB)


def quantize_activation(lin: QuantLinear, x: np.ndarray):
    """lin.quantize_input(x) for a static-scale uniform format, block by block.

    The same float64 operations as lowbit.quant.quantize (x / s + z, round half to even,
    saturate), so the codes are identical (tests/test_ocr.py checks it), but over blocks of
    CHUNK elements: quantize() makes several float64 copies of the whole tensor, and on the
    batched recogniser (tensors of millions of values) those temporaries cost more than the
    arithmetic.  DyBit, fp32 and per-call calibration go through lin.quantize_input.
    """
    if lin.fmt in ("fp32", "dybit") or lin.act is None:
        return lin.quantize_input(x)
    xf = np.ascontiguousarray(x, np.float32).reshape(-1)
    if not np.isfinite(xf).all():
        raise ValueError("cannot quantize NaN or infinite activations")
    s, z = lin.act
    sch = scheme(lin.fmt, "activation", None, **lin.act_params)
    sv, zv = float(s[0]), float(z[0])
    codes = np.empty(xf.size, sch.storage)
    buf = np.empty(min(CHUNK, xf.size), np.float64)
    for i in range(0, xf.size, CHUNK):
        u = buf[:min(CHUNK, xf.size - i)]
        u[:] = xf[i:i + CHUNK]
        np.divide(u, sv, out=u)
        np.add(u, zv, out=u)
        np.rint(u, out=u)
        np.clip(u, sch.qmin, sch.qmax, out=u)
        codes[i:i + u.size] = u
    return QTensor(codes.reshape(np.shape(x)), np.asarray(s, np.float64).reshape(1),
                   np.asarray(z, np.int64).reshape(1), lin.fmt, "activation", None,
                   sch.symmetric, dict(sch.params))


def im2col_nchw(x: np.ndarray, kh: int, kw: int, strides, pads, dilations, pad_value,
                groups: int = 1):
    """Patches of an NCHW tensor, group-major: (groups, N*OH*OW, C/groups*kh*kw), (c, dy, dx).

    One strided gather (numpy's sliding_window_view, then a single copy); each group's
    patches are a C-contiguous (M, K) matrix, which is what one kernel call takes.
    """
    n, c, h, w = x.shape
    sh, sw = strides
    dh, dw = dilations
    top, left, bottom, right = pads
    if kh == kw == 1 and sh == sw == 1 and not any(pads) and groups == 1:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(1, n * h * w, c), h, w
    if any(pads):
        xp = np.full((n, c, h + top + bottom, w + left + right), pad_value, dtype=x.dtype)
        xp[:, :, top:top + h, left:left + w] = x
    else:
        xp = x
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (eh, ew), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, OH, OW, kh, kw)
    oh, ow = win.shape[2], win.shape[3]
    win = win.reshape(n, groups, c // groups, oh, ow, kh, kw)
    cols = np.ascontiguousarray(win.transpose(1, 0, 3, 4, 2, 5, 6))
    return cols.reshape(groups, n * oh * ow, (c // groups) * kh * kw), oh, ow


def _conv(plan: Plan, node: str, x, w, b, attrs) -> np.ndarray:
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET"):
        raise NotImplementedError(f"{node}: auto_pad is not supported")
    cout, cin_g, kh, kw = w.shape
    groups = int(attrs.get("group") or 1)
    strides = attrs.get("strides") or (1, 1)
    pads = attrs.get("pads") or (0, 0, 0, 0)
    dil = attrs.get("dilations") or (1, 1)
    # (Cin/g*kh*kw, Cout): column j is output channel j's kernel, flattened (c, dy, dx)
    lin = plan.linear(node, w.reshape(cout, -1).T, b, groups)
    n = x.shape[0]
    depthwise = groups == cout == x.shape[1] and cin_g == 1
    if depthwise and plan.depthwise == "numpy" and lin.fmt != "fp32":
        plan.observe(node, x, None)
        return depthwise_exact(lin, x, kh, kw, strides, pads, dil)
    if lin.fmt == "fp32":
        xq, codes, pad_value = None, np.asarray(x, np.float32), 0.0
    else:
        xq = quantize_activation(lin, x)
        codes, pad_value = xq.codes, lin.zero_code(xq)
    cols, oh, ow = im2col_nchw(codes, kh, kw, strides, pads, dil, pad_value, groups)
    plan.observe(node, x, (cols.shape[1] // n, cin_g * kh * kw, cout // groups, groups, 1, True))
    y = gemm_rows(lin, cols if groups > 1 else cols[0], xq)
    # contiguous NCHW like the depthwise path: later float reductions sum in the same order
    return np.ascontiguousarray(y.reshape(n, oh, ow, cout).transpose(0, 3, 1, 2))


ROWS = 512  # GEMM rows per QuantLinear call: its int64/float64 temporaries stay in cache


def gemm_rows(lin: QuantLinear, codes: np.ndarray, xq) -> np.ndarray:
    """lin.gemm_codes over blocks of ROWS rows (rows are independent: the same result)."""
    m = codes.shape[-2]
    if m <= ROWS:
        return lin.gemm_codes(codes, xq)
    out = np.empty((m, lin.n), np.float32)
    for r0 in range(0, m, ROWS):
        out[r0:r0 + ROWS] = lin.gemm_codes(codes[..., r0:r0 + ROWS, :], xq)
    return out


def depthwise_exact(lin: QuantLinear, x, kh, kw, strides, pads, dil) -> np.ndarray:
    """A depthwise conv's quantized result from the same integers as the kernel path.

    sum over taps of (x - z_x)(q - z_w) per channel, exact in int64, then the same rescale
    as QuantLinear.gemm_codes (s_x * s_w * acc + b): bit-identical to one kernel call per
    channel on the im2col patches (tests/test_ocr.py checks it on real layers).
    """
    n, c, h, w = x.shape
    xq = quantize_activation(lin, x)
    top, left, bottom, right = pads
    w_max = max(1, max(int(np.abs(t[2]).max()) for t in lin.integer_weights()))
    sh, sw = strides
    dh, dw = dil
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    sx = float(xq.scale[0])
    terms = []
    for cols, scale, wq in lin.integer_weights():  # wq: (kh*kw, C), taps ordered (dy, dx)
        if cols is not None:
            raise NotImplementedError("depthwise residual terms cover every channel")
        terms.append(((sx * scale)[:, None, None], wq.astype(np.int32)[:, :, None, None]))
    y = np.empty((n, c, oh, ow), np.float32)
    # one image at a time: the int32 temporaries stay in cache (a whole batch's do not)
    vp = np.zeros((c, h + top + bottom, w + left + right), np.int32)
    acc = np.empty((c, oh, ow), np.int32)
    tmp = np.empty_like(acc)
    yi = np.empty((c, oh, ow), np.float64)
    for i in range(n):
        # x - z_x; padding: the code of a real 0 is exactly 0 after centring
        v = lin.input_values(replace(xq, codes=xq.codes[i]))
        # int32 is exact: |x - z_x| <= 1024, |q - z_w| <= 448 (DyBit-8), at most 25 taps here
        if int(np.abs(v).max(initial=0)) * w_max * kh * kw >= 2**31:
            raise OverflowError("depthwise sum could leave int32")
        vp[:, top:top + h, left:left + w] = v
        yi[:] = lin.bias[:, None, None]
        for rescale, wq32 in terms:
            acc[:] = 0
            for dy in range(kh):
                for dx in range(kw):
                    win = vp[:, dy * dh:dy * dh + sh * (oh - 1) + 1:sh,
                             dx * dw:dx * dw + sw * (ow - 1) + 1:sw]
                    np.multiply(win, wq32[dy * kw + dx], out=tmp)
                    acc += tmp
            # same float64 operation order as gemm_codes: acc * (s_x * s_w), then added to y
            yi += acc * rescale
        y[i] = yi
    return y


def _matmul(plan: Plan, node: str, a, b, constant: bool) -> np.ndarray:
    if constant:  # (..., K) @ (K, N): one GEMM over all leading dimensions
        lin = plan.linear(node, b, None)
        a2 = a.reshape(-1, a.shape[-1])
        plan.observe(node, a, (a2.shape[0] // a.shape[0], b.shape[0], b.shape[1], 1, 1, True))
        if lin.fmt == "fp32":
            y = lin(a2)
        else:
            xq = quantize_activation(lin, a2)
            y = gemm_rows(lin, xq.codes, xq)
        return y.reshape(a.shape[:-1] + (b.shape[1],))
    # activation x activation (attention): batched over the leading dimensions
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = np.broadcast_to(a, lead + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    b3 = np.broadcast_to(b, lead + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    per_item = a3.shape[0] // a.shape[0] if a.ndim > 2 else 1
    plan.observe(node, a, (a3.shape[1], a3.shape[2], b3.shape[2], 1, per_item, False))
    if not plan.quantized(node) or plan.attention == "kernel":
        out = np.empty((a3.shape[0], a3.shape[1], b3.shape[2]), np.float32)
        for i in range(a3.shape[0]):  # the right operand is quantized (and packed) per call
            out[i] = plan.make(node, b3[i], None, residual=False)(np.ascontiguousarray(a3[i]))
    else:
        out = attention_exact(plan, node, a3, b3)
    return out.reshape(lead + out.shape[1:])


def attention_exact(plan: Plan, node: str, a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """An activation x activation product, every item's right operand quantized on its own.

    The same numbers as one QuantLinear per item (plan.make(node, b3[i])), the kernel path:
    each item's (and head's) right operand calibrated per tensor or per column with the
    plan's method (per column: with that item's per-tensor optimum as a candidate, like
    lowbit.quant.calibrate), the left operand with the node's static activation scale, exact
    integer products (int64) and the same rescale s_x * s_w * acc.  But the calibration
    search runs once for all items (vectorised), not once per item and head, which made it
    most of the recogniser's evaluation time.  Bit-identical to the kernel path (tested).
    """
    from lowbit.quant import quantize

    cal = importlib.import_module("lowbit.quant.calibrate")  # the module (the package's
    # `calibrate` attribute is the function of that name)
    s_x, z_x, signed = plan.act_qparams[node]
    fmt, params = plan.fmt, dict(plan.params)
    w_params = {"bits": int(params.get("bits", 4))} if fmt == "dybit" else params
    a_params = ({"bits": w_params["bits"], "signed": bool(signed)} if fmt == "dybit"
                else params)
    nb, k, n = b3.shape
    b = np.asarray(b3, np.float64)
    sch = scheme(fmt, "weight", None, **w_params)
    per_item = b.reshape(nb, k * n)  # rows: items (heads)

    def fit(x2, candidates=()):
        if plan.w_method == "minmax":
            return cal.minmax(x2, sch)
        if plan.w_method == "mmse":
            return cal.mmse(x2, sch, grid=plan.grid, candidates=candidates)
        raise ValueError(f"attention operands: unsupported method {plan.w_method!r}")

    if plan.per_channel:  # rows: (item, column) pairs, each a column of K values
        cols = b.transpose(0, 2, 1).reshape(nb * n, k)
        extra = ()
        if plan.w_method == "mmse":
            s_t, z_t = fit(per_item)
            extra = ((np.repeat(s_t, n), np.repeat(z_t, n)),)
        s_w, z_w = fit(cols, extra)
        q = quantize(cols, fmt, axis=0, scale=s_w, zero_point=z_w, **w_params)
        wv = (q.values().astype(np.int64) - z_w[:, None]).reshape(nb, n, k).transpose(0, 2, 1)
        s_w = s_w.reshape(nb, 1, n)
    else:
        s_w, z_w = fit(per_item)
        q = quantize(per_item, fmt, axis=0, scale=s_w, zero_point=z_w, **w_params)
        wv = (q.values().astype(np.int64) - z_w[:, None]).reshape(nb, k, n)
        s_w = s_w.reshape(nb, 1, 1)
    xq = quantize(a3, fmt, role="activation", scale=s_x, zero_point=z_x, **a_params)
    xv = xq.values().astype(np.int64) - int(np.ravel(z_x)[0])
    acc = np.matmul(xv, wv)
    return (acc * (float(np.ravel(s_x)[0]) * s_w)).astype(np.float32)


class _LowbitOp(OpRun):
    op_domain = ""
    plan: Plan | None = None  # set on the per-executor subclass
    constants: frozenset = frozenset()


class _Conv(_LowbitOp):
    def _run(self, x, w, b=None, **attrs):
        return (_conv(self.plan, self.onnx_node.name, x, w, b, attrs).astype(x.dtype),)


class _MatMul(_LowbitOp):
    def _run(self, a, b):
        const = self.onnx_node.input[1] in self.constants
        return (_matmul(self.plan, self.onnx_node.name, a, b, const).astype(a.dtype),)


class BatchNormalization(OpRun):
    """Inference-mode BatchNormalization (onnx's own test-mode formula).

    onnx's reference BatchNormalization for opsets 9-13 uses batch statistics (training mode)
    whenever `momentum` has a value, and the schema gives it the default 0.9 even where the
    node does not set it; at inference the stored mean and variance are the right ones.
    """

    op_domain = ""

    def _run(self, x, scale, bias, mean, var, epsilon=1e-5, **_):
        return (_batchnorm_test_mode(x, scale, bias, mean, var, epsilon=epsilon),)


class AveragePool(OpRun):
    """AveragePool for non-overlapping windows without padding, as one reshape-mean.

    onnx's reference pools element by element in Python (tens of seconds per batch here);
    the recogniser's only AveragePool has kernel = stride and no padding.
    """

    op_domain = ""

    def _run(self, x, kernel_shape=None, strides=None, pads=None, ceil_mode=0,
             count_include_pad=0, auto_pad="NOTSET", **_):
        kh, kw = kernel_shape
        if (list(strides or kernel_shape) != list(kernel_shape) or any(pads or ())
                or ceil_mode or auto_pad not in ("NOTSET", b"NOTSET") or x.ndim != 4):
            raise NotImplementedError("AveragePool: only kernel = strides, no padding")
        n, c, h, w = x.shape
        oh, ow = h // kh, w // kw
        v = x[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw)
        return (v.mean(axis=(3, 5), dtype=np.float32).astype(x.dtype),)


class LowbitExecutor:
    """The model with its Conv and MatMul nodes on lowbit's kernels, under one Plan."""

    def __init__(self, model, plan: Plan):
        self.plan = plan
        consts = frozenset([t.name for t in model.graph.initializer]
                           + [o for n in model.graph.node if n.op_type == "Constant"
                              for o in n.output])
        ns = {"plan": plan, "constants": consts}
        ops = [type("Conv", (_Conv,), ns), type("MatMul", (_MatMul,), ns)]
        ops += [BatchNormalization, AveragePool]
        self.evaluator = ReferenceEvaluator(model, new_ops=ops)
        self.input_name = model.graph.input[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.evaluator.run(None, {self.input_name: np.asarray(x, np.float32)})[0]


def gemm_nodes(model) -> list[tuple[str, str]]:
    """(node name, op type) of every Conv and MatMul, in graph order."""
    return [(n.name, n.op_type) for n in model.graph.node if n.op_type in ("Conv", "MatMul")]

