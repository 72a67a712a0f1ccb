"""Tests for the procedural anime-face dataset and the face detector that checks it."""

import numpy as np
import pytest

from animegan_tf.quality import detect_faces, detector_self_check
from animegan_tf.data.synthetic import synthetic_faces


@pytest.fixture(scope="module")
def faces():
    return synthetic_faces(64, seed=3)


@pytest.fixture(scope="module")
def thousand_faces():
    # seed 2024 was not used while tuning the drawing (that was seed 1)
    return synthetic_faces(1000, seed=2024)


def test_shape_and_dtype(faces):
    assert faces.shape == (64, 64, 64, 3)
    assert faces.dtype == np.uint8


@pytest.mark.parametrize("image_size", [32, 128])
def test_other_sizes(image_size):
    images = synthetic_faces(4, image_size=image_size, seed=1)
    assert images.shape == (4, image_size, image_size, 3)
    assert images.dtype == np.uint8
    assert images.std() > 20  # drawn, not blank


def test_zero_faces():
    assert synthetic_faces(0).shape == (0, 64, 64, 3)


def test_same_seed_same_faces(faces):
    np.testing.assert_array_equal(synthetic_faces(64, seed=3), faces)


def test_different_seeds_differ(faces):
    other = synthetic_faces(64, seed=4)
    assert not np.any(np.all(other == faces, axis=(1, 2, 3)))


def test_image_does_not_depend_on_n(faces):
    np.testing.assert_array_equal(synthetic_faces(5, seed=3), faces[:5])
    np.testing.assert_array_equal(synthetic_faces(1, seed=3)[0], faces[0])


def test_all_faces_differ(faces):
    flat = faces.reshape(len(faces), -1).astype(np.int16)
    # mean absolute pixel difference between every pair of images
    distances = np.abs(flat[:, None, :] - flat[None, :, :]).mean(axis=-1)
    off_diagonal = distances[~np.eye(len(faces), dtype=bool)]
    assert off_diagonal.min() > 5
    # the set varies a lot: per-pixel std across images, averaged over pixels
    assert faces.astype(float).std(axis=0).mean() > 40


def test_no_duplicates_in_a_thousand(thousand_faces):
    distinct = np.unique(thousand_faces.reshape(len(thousand_faces), -1), axis=0)
    assert len(distinct) == len(thousand_faces)


def test_faces_use_many_colours(faces):
    # hair, skin, eyes and background: far more than a handful of colours per image
    colours_per_image = [len(np.unique(image.reshape(-1, 3), axis=0)) for image in faces[:8]]
    assert min(colours_per_image) > 100


def test_detector_self_check_passes():
    assert detector_self_check()


def test_detector_finds_most_synthetic_faces(thousand_faces):
    found = detect_faces(thousand_faces)
    assert found.shape == (1000,) and found.dtype == bool
    assert found.mean() >= 0.8, f"only {found.mean():.1%} of synthetic faces detected"


def test_detector_ignores_noise_and_flat_images():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(8, 64, 64, 3), dtype=np.uint8)  # slow to scan: keep few
    grey = np.full((10, 64, 64, 3), 128, dtype=np.uint8)
    colours = rng.integers(0, 256, size=(10, 1, 1, 3), dtype=np.uint8)
    flat = np.broadcast_to(colours, (10, 64, 64, 3))
    found = detect_faces(np.concatenate([noise, grey, flat]))
    assert found.sum() <= 1


def test_detect_faces_rejects_bad_input():
    with pytest.raises(ValueError):
        detect_faces(np.zeros((2, 64, 64), dtype=np.uint8))
    with pytest.raises(ValueError):
        detect_faces(np.zeros((2, 64, 64, 3), dtype=np.float32))
