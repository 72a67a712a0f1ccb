"""animegan_tf: a TensorFlow/Keras lab for generating 64x64 anime faces with DCGANs.

Public names are imported lazily, so `import animegan_tf` (and `animegan-tf presets`) does not start TensorFlow.
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no C++ log lines from TensorFlow (see backend.py)

__version__ = "0.1.0"

_PUBLIC = {
    "GANConfig": "config", "ConfigError": "config", "PRESETS": "config", "preset": "config",
    "apply_overrides": "config",
    "build_generator": "models", "build_discriminator": "models",
    "DCGAN": "gan",
    "train": "training", "build_gan": "sampling", "load_generator": "sampling", "generate": "sampling",
    "latents": "sampling", "pretrained_run": "runs",
    "load_images": "data", "load_array": "data", "make_dataset": "data", "DataError": "data",
    "synthetic_faces": "data.synthetic",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'animegan_tf' has no attribute {name!r}")
