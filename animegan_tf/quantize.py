"""Weight-only int8 storage, for shipping a generator too large to keep in the repo as float32.

Each kernel (every array of two or more dimensions) is stored as int8 with one float32 scale per output channel
(symmetric: w ≈ q * scale, scale = max|w| / 127 over the channel, so every weight is off by at most scale / 2; per
output channel because the BatchNorm after each layer rescales each output channel on its own); biases and BatchNorm
parameters and statistics (1-D) stay float32. A generator loaded from it computes in float32 as before: only the
stored precision changes, about a quarter of the bytes. What it costs in FID is measured in BENCHMARKS.md
(section "`fast-wide` to 2,000 kimg", paragraph "Shipping a generator in int8"; benchmarks/int8_quality.py).

Numpy only: this module sits beside files.py at the bottom of the import stack.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes

SCALE_SUFFIX = ":scale"  # the key of a kernel's scales beside its int8 values


def quantize(w: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales, one per index of `axis` (the output channels: -1 for Dense and Conv2D
    kernels, -2 for Conv2DTranspose's (h, w, out, in)), kept as dimensions of size 1 elsewhere so that q * scale
    broadcasts; w ≈ q * scale, an all-zero channel gets scale 1."""
    w = np.asarray(w, dtype=np.float32)
    if w.ndim < 2:
        raise ValueError(f"only kernels (2 or more dimensions) are quantized, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("cannot quantize a kernel with non-finite weights")
    others = tuple(i for i in range(w.ndim) if i != axis % w.ndim)
    scale = (np.abs(w).max(axis=others, keepdims=True) / 127.0).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1.0))
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def dequantize(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) * scale.astype(np.float32)


def save_int8(path: Path, arrays: dict[str, np.ndarray], axes: dict[str, int] | None = None) -> None:
    """Write name -> array to a compressed .npz atomically, kernels as int8 + scales (over `axes[name]`, default
    -1: the output channel axis of each kernel), the rest as float32."""
    stored = {}
    for name, value in arrays.items():
        if name.endswith(SCALE_SUFFIX):
            raise ValueError(f"a weight name may not end with {SCALE_SUFFIX!r}: {name}")
        value = np.asarray(value)
        if value.ndim >= 2:
            stored[name], stored[name + SCALE_SUFFIX] = quantize(value, (axes or {}).get(name, -1))
        else:
            stored[name] = value.astype(np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **stored)
    atomic_write_bytes(path, buffer.getvalue())


class Dequantized(dict):
    """name -> float32 array, with an open npz's `.files`, so that a checkpoint reader can read it by name."""

    @property
    def files(self) -> list[str]:
        return list(self)


def load_int8(path: Path) -> Dequantized:
    """The arrays `save_int8` wrote, kernels dequantized to float32."""
    with np.load(path) as saved:
        names = [k for k in saved.files if not k.endswith(SCALE_SUFFIX)]
        out = Dequantized()
        for name in names:
            value = saved[name]  # each access decompresses again: read once
            if value.dtype == np.int8:
                if name + SCALE_SUFFIX not in saved.files:
                    raise ValueError(f"{path}: int8 weight {name} has no {SCALE_SUFFIX} beside it")
                out[name] = dequantize(value, saved[name + SCALE_SUFFIX])
            else:
                out[name] = value.astype(np.float32)
    return out
