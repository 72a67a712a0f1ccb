"""Precision and device: which Keras dtype policy a run computes in, and the tf.distribute strategy it runs under.

Precision "auto" picks mixed_float16 on a GPU; on a CPU it picks mixed_bfloat16 only when the CPU has native
bfloat16 arithmetic (AVX512_BF16 or AMX), else float32, because CPUs emulate float16 (see BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import warnings

from .backend import keras, tf
from .config import GANConfig
from .machine import bf16_flags


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(cfg: GANConfig, warn: bool = True) -> str:
    """The Keras dtype policy name the run will use."""
    gpu = has_gpu()
    if cfg.precision == "auto":
        if gpu:
            return "mixed_float16"
        return "mixed_bfloat16" if bf16_flags() else "float32"
    if cfg.precision == "mixed_float16" and not gpu and warn:
        warnings.warn("precision=mixed_float16 on a CPU: float16 is emulated there and runs several times slower "
                      "than float32 (set precision=auto or float32 for CPU runs)", stacklevel=2)
    return cfg.precision


def compute_dtype(cfg: GANConfig) -> str:
    return keras.DTypePolicy(resolve_precision(cfg, warn=False)).compute_dtype


def make_strategy(cfg: GANConfig) -> tf.distribute.Strategy:
    if cfg.strategy == "mirrored":  # every local GPU, else every (logical) CPU device
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return _mirrored(tuple(d.name for d in devices))
    return tf.distribute.get_strategy()


@functools.cache
def _mirrored(devices: tuple[str, ...]) -> tf.distribute.Strategy:
    """One MirroredStrategy per device set and process: every strategy object numbers its collective ops from the
    same keys, so a second one in the same process (a notebook that builds several mirrored runs) can pair its
    all-reduce with another's and fail with a shape mismatch."""
    return tf.distribute.MirroredStrategy(list(devices))
