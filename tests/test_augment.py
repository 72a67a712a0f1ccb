import numpy as np
import pytest
import tensorflow as tf

from animegan_tf.data.augment import adjust_sharpness, diff_augment, gaussian_blur, make_augment
from animegan_tf.config import ConfigError
from animegan_tf.data import make_dataset
from animegan_tf.training import train
from conftest import blob_images, tiny_config

SEED = tf.constant([3, 4], tf.int64)


def laplacian_energy(x):
    x = np.asarray(x, np.float64)
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return float((lap ** 2).mean())


def test_all_off_by_default():
    assert make_augment(tiny_config()) is None


def test_flip_mirrors_about_half_of_the_images_deterministically():
    images = blob_images(64, size=16, seed=1)
    aug = make_augment(tiny_config(aug_flip=True))
    out = aug(tf.constant(images), SEED).numpy()
    flipped = [np.array_equal(o, i[:, ::-1]) and not np.array_equal(o, i) for o, i in zip(out, images)]
    kept = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 16 < sum(flipped) < 48
    assert np.array_equal(out, aug(tf.constant(images), SEED).numpy())
    assert not np.array_equal(out, aug(tf.constant(images), tf.constant([9, 9], tf.int64)).numpy())


def test_sharpness_and_blur_move_high_frequencies_the_right_way():
    x = tf.constant(blob_images(8, size=16, seed=2), tf.float32)
    assert np.allclose(adjust_sharpness(x, tf.ones(8)).numpy(), x.numpy(), atol=1e-3)
    assert laplacian_energy(adjust_sharpness(x, tf.fill([8], 2.0))) > 1.2 * laplacian_energy(x)
    assert laplacian_energy(gaussian_blur(x, 1.5)) < 0.5 * laplacian_energy(x)


def test_colour_jitter_changes_images_within_range():
    images = blob_images(16, size=16, seed=3)
    out = make_augment(tiny_config(aug_color_jitter=0.4))(tf.constant(images), SEED).numpy()
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert np.abs(out.astype(int) - images).mean() > 3


def test_augmented_pipeline_is_reproducible_per_epoch():
    images = blob_images(16, size=16, seed=4)
    aug = make_augment(tiny_config(aug_flip=True, aug_sharpness=2.0, aug_color_jitter=0.2, aug_blur=1.0))
    first = [b.numpy() for b in make_dataset(images, 8, epochs=2, augment=aug)]
    resumed = [b.numpy() for b in make_dataset(images, 8, epochs=2, initial_epoch=1, augment=aug)]
    assert np.array_equal(first[2], resumed[0]) and np.array_equal(first[3], resumed[1])


def test_diffaugment_translation_cutout_colour():
    x = np.zeros((4, 16, 16, 3), np.float32)
    x[:, 8, 8, :] = 1.0  # one bright pixel
    moved = diff_augment(tf.constant(x), ("translation",), SEED).numpy()
    assert moved.shape == x.shape
    positions = {tuple(np.argwhere(m[..., 0] == 1.0)[0]) for m in moved if (m == 1.0).any()}
    assert len(positions) >= 2  # each image shifted on its own
    assert all(abs(r - 8) <= 2 and abs(c - 8) <= 2 for r, c in positions)

    ones = tf.ones((8, 16, 16, 3))
    cut = diff_augment(ones, ("cutout",), SEED).numpy()
    zero_fraction = (cut[..., 0] == 0).mean(axis=(1, 2))
    assert np.all(zero_fraction > 0.05) and np.all(zero_fraction <= 0.33)

    coloured = diff_augment(tf.constant(blob_images(4) / 127.5 - 1, tf.float32), ("color",), SEED).numpy()
    assert np.abs(coloured - (blob_images(4) / 127.5 - 1)).mean() > 0.05


def test_diffaugment_is_differentiable():
    x = tf.Variable(tf.random.stateless_normal((2, 16, 16, 3), seed=[1, 2]))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(diff_augment(x, ("color", "translation", "cutout"), SEED))
    grad = tape.gradient(y, x)
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0


def test_training_with_every_augmentation(tmp_path):
    cfg = tiny_config(epochs=1, aug_flip=True, aug_sharpness=2.0, aug_color_jitter=0.2, aug_blur=1.0,
                      diffaugment="color,translation,cutout")
    gan = train(cfg, blob_images(16), tmp_path / "run", verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 2


def test_invalid_augmentation_settings():
    with pytest.raises(ConfigError, match="diffaugment"):
        tiny_config(diffaugment="rotate")
    with pytest.raises(ConfigError, match="aug_color_jitter"):
        tiny_config(aug_color_jitter=1.5)
    with pytest.raises(ConfigError, match="tfdata"):
        tiny_config(aug_flip=True, data_pipeline="array_slices")
