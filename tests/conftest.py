"""Shared helpers: tiny configs (so every model test runs in seconds on 2 cores) and generated image fixtures."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from animegan_tf.config import GANConfig


def tiny_config(**overrides) -> GANConfig:
    """A 16x16 DCGAN with a handful of filters: the same code paths as the presets, a thousandth of the cost."""
    base = dict(name="tiny", image_size=16, latent_dim=8, g_base_filters=16, g_filters=(8,), d_filters=(8, 16),
                batch_size=8, epochs=2, num_samples=4, precision="float32", seed=1)
    base.update(overrides)
    return GANConfig(**base)


def blob_images(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """n uint8 RGB images: a bright disc of random colour and position on a dark background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        r = rng.uniform(size * 0.15, size * 0.3)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        out[i][mask] = rng.integers(128, 256, 3)
        out[i][~mask] = rng.integers(0, 40, 3)
    return out


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 24 good 20x24 PNG/JPEG images (non-square on purpose)."""
    folder = tmp_path / "faces"
    folder.mkdir()
    for i, arr in enumerate(blob_images(24, size=24, seed=3)):
        img = Image.fromarray(arr[:20])  # 24 wide, 20 high
        img.save(folder / (f"img_{i:02d}.png" if i % 2 else f"img_{i:02d}.jpg"))
    return folder


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Caches land in the test's temporary folder, never in the checkout or the home folder."""
    monkeypatch.setenv("ANIMEGAN_DATA_DIR", str(tmp_path / "data_dir"))


def _two_logical_cpus():
    """Split the CPU into two logical devices (before TensorFlow starts) so MirroredStrategy has two replicas."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


_two_logical_cpus()


def position(meta: dict) -> tuple[int, int]:
    """(epoch, step_in_epoch) of a checkpoint's meta (which also holds the run's training clocks)."""
    return meta["epoch"], meta["step_in_epoch"]
