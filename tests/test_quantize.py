"""int8 storage of a shipped generator: what it stores, what it loses, and that the folder works like any other."""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from animegan_tf import runs
from animegan_tf.backend import keras
from animegan_tf.cli import main
from animegan_tf.quantize import SCALE_SUFFIX, dequantize, load_int8, quantize, save_int8
from animegan_tf.sampling import export_generator, generate, load_generator
from animegan_tf.training import train
from animegan_tf.web.app import create_app

from conftest import blob_images, tiny_config


@pytest.mark.parametrize("axis", [-1, -2])  # a Conv2D kernel (h, w, in, out), a Conv2DTranspose one (h, w, out, in)
def test_quantize_is_off_by_at_most_half_a_step_per_output_channel(axis):
    rng = np.random.default_rng(0)
    sizes = np.array([1, 10, 0.1, 3, 0], dtype=np.float32)  # channel 4 all zero
    w = np.moveaxis(rng.normal(0, 0.02, (4, 4, 8, 5)).astype(np.float32) * sizes, -1, axis)
    q, scale = quantize(w, axis)
    assert q.dtype == np.int8 and scale.dtype == np.float32 and scale.size == 5 and scale.shape[axis] == 5
    channels = np.moveaxis(w, axis, -1).reshape(-1, 5)  # one column per output channel
    np.testing.assert_allclose(scale.ravel()[:4], np.abs(channels).max(axis=0)[:4] / 127, rtol=1e-6)
    assert np.abs(np.moveaxis(q, axis, -1)).reshape(-1, 5).max(axis=0).tolist() == [127, 127, 127, 127, 0]
    back = dequantize(q, scale)
    assert np.all(np.abs(back - w) <= scale / 2 * (1 + 1e-5))
    # Each channel keeps its own relative precision, the small one (0.1×) included: not one step for all.
    error = np.moveaxis(np.abs(back - w), axis, -1).reshape(-1, 5).max(axis=0)
    assert np.all(error[:4] <= np.abs(channels).max(axis=0)[:4] / 254 * (1 + 1e-5))
    assert not np.any(np.moveaxis(back, axis, -1)[..., 4])  # a zero channel stays zero (scale 1, no 0 / 0)
    with pytest.raises(ValueError, match="kernels"):
        quantize(np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        quantize(np.full((2, 2), np.nan))


def test_save_int8_stores_kernels_as_int8_and_the_rest_exactly(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"g/dense/kernel": rng.normal(size=(16, 32)).astype(np.float32),
              "g/bn/moving_variance": rng.uniform(0.5, 2, 32).astype(np.float32)}
    path = tmp_path / "w.npz"
    save_int8(path, arrays)
    with np.load(path) as raw:
        assert raw["g/dense/kernel"].dtype == np.int8 and raw["g/dense/kernel" + SCALE_SUFFIX].shape == (1, 32)
        np.testing.assert_array_equal(raw["g/bn/moving_variance"], arrays["g/bn/moving_variance"])
    back = load_int8(path)
    assert sorted(back.files) == sorted(arrays)
    np.testing.assert_array_equal(back["g/dense/kernel"], dequantize(*quantize(arrays["g/dense/kernel"])))
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ValueError, match=SCALE_SUFFIX):
        save_int8(path, {"x" + SCALE_SUFFIX: arrays["g/dense/kernel"]})
    with np.load(path) as raw:  # a file whose scales are gone is refused by name
        np.savez(tmp_path / "broken.npz", **{k: raw[k] for k in raw.files if not k.endswith(SCALE_SUFFIX)})
    with pytest.raises(ValueError, match="int8 weight g/dense/kernel has no :scale"):
        load_int8(tmp_path / "broken.npz")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny finished run with an averaged generator (generator.keras written at its end)."""
    run = tmp_path_factory.mktemp("int8") / "run"
    train(tiny_config(epochs=1, ema_decay=0.9), blob_images(16), run, verbose=0)
    return run


def test_an_int8_export_loads_and_draws_nearly_the_same_faces(tiny_run, tmp_path):
    run = tiny_run
    full = runs.export_pretrained(run, tmp_path / "float32", {"note": "float32"})
    packed = export_generator(run, tmp_path / "int8", {"note": "int8"}, int8=True)
    assert not (packed / runs.FINAL_GENERATOR).exists() and (packed / runs.INT8_GENERATOR).exists()
    a = generate(load_generator(full), 16, seed=5).astype(int)
    b = generate(load_generator(packed), 16, seed=5).astype(int)
    diff = np.abs(a - b)
    assert diff.mean() < 2 and diff.max() < 40  # the same faces, off by rounding
    # Every variable came from the file, each within half a step of the float32 one (a kernel) or equal to it.
    g_full, g_packed = load_generator(full), load_generator(packed)
    kernels = 0
    for full_layer, packed_layer in zip(g_full.layers, g_packed.layers):
        # per output channel: axis -2 of a transposed convolution's (h, w, out, in) kernel
        axis = -2 if isinstance(full_layer, keras.layers.Conv2DTranspose) else -1
        for w, v in zip(full_layer.weights, packed_layer.weights):
            w, v = np.asarray(w), np.asarray(v)
            if w.ndim >= 2:
                kernels += 1
                assert np.all(np.abs(w - v) <= quantize(w, axis)[1] / 2 * (1 + 1e-5)), full_layer.name
            else:
                np.testing.assert_array_equal(w, v, err_msg=full_layer.name)
    assert kernels == 3  # project, up1, the RGB layer
    # The page and `sample` read it like any run folder.
    response = create_app(tmp_path).test_client().get("/api/generate", query_string={"run": "int8", "n": 1})
    assert response.status_code == 200 and np.asarray(Image.open(io.BytesIO(response.data))).std() > 0
    grid = tmp_path / "grid.png"
    assert main(["sample", "--run", str(packed), "--n", "4", "--grid", str(grid)]) == 0 and grid.exists()
    # A float32 export over the int8 one replaces it: one generator per folder.
    runs.export_pretrained(run, packed, {"note": "float32 again"})
    assert (packed / runs.FINAL_GENERATOR).exists() and not (packed / runs.INT8_GENERATOR).exists()
    with pytest.raises(ValueError, match="into the run folder itself"):  # it would delete the run's generator
        export_generator(run, run, {}, int8=True)
    assert (run / runs.FINAL_GENERATOR).exists()


def test_the_export_scales_a_transposed_kernel_per_output_channel(tiny_run, tmp_path):
    # A trained tiny kernel's channels may be near one size, where a scale per input channel would pass a bound
    # too; here each transposed kernel's output channels span 1e-3x to 1x, and each must keep its own precision.
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    generator = keras.saving.load_model(run / runs.FINAL_GENERATOR, compile=False)
    transposed = [layer for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert transposed
    for layer in transposed:
        kernel = np.asarray(layer.kernel)  # (h, w, out, in)
        sizes = np.geomspace(1e-3, 1, kernel.shape[-2]).astype(np.float32)[:, None]
        layer.kernel.assign(kernel * sizes)
    generator.save(run / runs.FINAL_GENERATOR)
    packed = load_generator(export_generator(run, tmp_path / "int8", {}, int8=True))
    for layer in transposed:
        w = np.asarray(layer.kernel)
        v = np.asarray(packed.get_layer(layer.name).kernel)
        error = np.abs(w - v).max(axis=(0, 1, 3))  # per output channel
        assert np.all(error <= np.abs(w).max(axis=(0, 1, 3)) / 254 * (1 + 1e-5)), layer.name


def test_an_int8_file_from_another_config_is_refused(tiny_run, tmp_path):
    packed = export_generator(tiny_run, tmp_path / "int8", {}, int8=True)
    other = tiny_config(epochs=1, ema_decay=0.9, g_filters=(16,))
    runs.write_config(packed, other)
    with pytest.raises(ValueError, match="has shape"):  # named, not a silent partial load
        load_generator(packed)
