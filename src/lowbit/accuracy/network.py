"""The digits CNN run through the lowbit kernels (im2col GEMMs) in one format."""

from __future__ import annotations

import numpy as np

from lowbit.nn import QuantConv2d, QuantLinear

from .digits_cnn import QUANTIZED_LAYERS, _forward_train, maxpool2


def layer_inputs(params: dict, x: np.ndarray) -> dict:
    """Float inputs of every conv layer in the fp32 network (for activation calibration)."""
    out, h = {}, x
    for name in ("conv1", "conv2", "conv3"):
        out[name] = h
        w, b = params[f"{name}.w"], params[f"{name}.b"]
        h = np.maximum(QuantConv2d(w, b, "fp32", pad=1)(h), 0)
        if name != "conv1":
            h = maxpool2(h)
    return out


class KernelDigitsNet:
    """conv1 and fc in fp32 (as in the papers), conv2 and conv3 in `fmt`, all on lowbit kernels.

    Quantized layers: weights per output channel (w_method), activations per tensor with static
    scales from `calib` images (a_method).  fmt="fp32" runs every layer in fp32.
    """

    def __init__(self, params: dict, fmt: str, calib: np.ndarray, *, threads: int = 1,
                 **layer_kwargs):
        self.fmt = fmt
        inputs = layer_inputs(params, calib) if fmt != "fp32" else {}
        self.convs = []
        for name in ("conv1", "conv2", "conv3"):
            w, b = params[f"{name}.w"], params[f"{name}.b"]
            if name in QUANTIZED_LAYERS and fmt != "fp32":
                conv = QuantConv2d(w, b, fmt, pad=1, calib=inputs[name], threads=threads,
                                   **layer_kwargs)
            else:
                conv = QuantConv2d(w, b, "fp32", pad=1, threads=threads)
            self.convs.append((name, conv))
        self.fc = QuantLinear(params["fc.w"], params["fc.b"], "fp32", threads=threads)
        # The GEMMs that change with the format (for kernel-time accounting).
        self.quantized_gemms = [conv.linear for name, conv in self.convs
                                if name in QUANTIZED_LAYERS]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, np.float32)
        for name, conv in self.convs:
            h = np.maximum(conv(h), 0)
            if name != "conv1":
                h = maxpool2(h)
        return self.fc(h.reshape(h.shape[0], -1))


def numpy_logits(params: dict, x: np.ndarray) -> np.ndarray:
    """The training code's own forward pass (a cross-check of the kernel fp32 path)."""
    return _forward_train(params, x)[0]
