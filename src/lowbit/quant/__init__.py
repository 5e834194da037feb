"""Quantizers for the lowbit formats (docs/quantization.md).

quantize / dequantize for fp32, int8, int4, 4.6bit and DyBit; min-max, percentile and MMSE
calibration, per tensor or per channel; multi-tensor residual refinement.
"""

from . import dybit
from .calibrate import METHODS
from .core import QTensor, calibrate, dequantize, quantize
from .residual import ResidualQTensor, quantize_residual, relative_channel_error
from .schemes import QUANT_FORMATS, ROLES, Scheme, levels_46, scheme

__all__ = [
    "METHODS",
    "QUANT_FORMATS",
    "ROLES",
    "QTensor",
    "ResidualQTensor",
    "Scheme",
    "calibrate",
    "dequantize",
    "dybit",
    "levels_46",
    "quantize",
    "quantize_residual",
    "relative_channel_error",
    "scheme",
]
