"""The averaged generator: exact arithmetic, ramp, checkpoint and resume, and who samples from it."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from animegan_tf import runs
from animegan_tf.callbacks import ExtraAverages
from animegan_tf.cli import main
from animegan_tf.config import ConfigError, preset
from animegan_tf.data import make_dataset
from animegan_tf.files import to_uint8
from animegan_tf.sampling import build_gan, generate, load_average, load_generator
from animegan_tf.training import train
from conftest import blob_images, tiny_config


class WeightsEachStep(keras.callbacks.Callback):
    """Every generator weight after every step, as numpy."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([w.numpy().astype(np.float64) for w in self.model.generator.weights])


def expected_average(initial, steps, betas):
    average = [w.astype(np.float64) for w in initial]
    for weights, beta in zip(steps, betas):
        average = [beta * a + (1 - beta) * w for a, w in zip(average, weights)]
    return average


def train_steps(cfg, steps):
    gan = build_gan(cfg)
    initial = [w.numpy().copy() for w in gan.generator.weights]
    recorder = WeightsEachStep()
    dataset = make_dataset(blob_images(steps * cfg.batch_size), cfg.batch_size, epochs=1)
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, callbacks=[recorder], verbose=0, shuffle=False)
    return gan, initial, recorder.steps


def assert_weights_close(actual_vars, expected, **tol):
    assert len(actual_vars) == len(expected)
    for var, want in zip(actual_vars, expected):
        np.testing.assert_allclose(var.numpy(), want, **tol, err_msg=var.path)


def test_average_is_the_exact_exponential_average_of_every_weight():
    decay = 0.7
    gan, initial, steps = train_steps(tiny_config(ema_decay=decay, g_lr=5e-3), steps=4)
    want = expected_average(initial, steps, [decay] * len(steps))
    assert_weights_close(gan.ema_generator.weights, want, rtol=1e-5, atol=1e-6)
    # The average differs from the trained weights (it lags them) and is not a copy of them.
    assert any(not np.allclose(e.numpy(), g.numpy()) for e, g in zip(gan.ema_generator.weights,
                                                                      gan.generator.weights))
    # A wrong decay gives other weights: the comparison above can fail.
    wrong = expected_average(initial, steps, [0.5] * len(steps))
    assert not all(np.allclose(v.numpy(), w, rtol=1e-5, atol=1e-6)
                   for v, w in zip(gan.ema_generator.weights, wrong))


def test_rampup_caps_the_half_life_by_images_seen():
    cfg = tiny_config(ema_decay=0.99, ema_rampup=0.5, g_lr=5e-3)
    gan, initial, steps = train_steps(cfg, steps=4)
    batch = cfg.batch_size
    betas = []
    for t in range(1, len(steps) + 1):
        halflife = min(batch * math.log(0.5) / math.log(0.99), 0.5 * t * batch)
        betas.append(0.5 ** (batch / halflife))
    assert betas[0] == pytest.approx(0.25)  # half-life 0.5 batch after the first batch
    assert_weights_close(gan.ema_generator.weights, expected_average(initial, steps, betas), rtol=1e-5, atol=1e-6)


def test_average_under_mirrored_strategy_matches_one_device():
    cfg = tiny_config(ema_decay=0.8, g_lr=5e-3, strategy="mirrored")
    gan, initial, steps = train_steps(cfg, steps=2)
    assert gan.distribute_strategy.num_replicas_in_sync == 2
    assert_weights_close(gan.ema_generator.weights, expected_average(initial, steps, [0.8, 0.8]),
                         rtol=1e-5, atol=1e-6)


@pytest.fixture
def deterministic_ops():
    tf.config.experimental.enable_op_determinism()


def test_resume_restores_the_average_exactly(tmp_path, deterministic_ops):
    images = blob_images(32)  # 4 steps per epoch
    cfg = tiny_config(epochs=2, ema_decay=0.9, ema_rampup=0.1)
    train(cfg, images, tmp_path / "straight", verbose=0)
    train(cfg, images, tmp_path / "budget", max_minutes=1e-9, verbose=0)  # stops after one step
    train(cfg, images, tmp_path / "budget", resume=True, verbose=0)

    with np.load(tmp_path / "straight" / runs.CHECKPOINT) as a, np.load(tmp_path / "budget" / runs.CHECKPOINT) as b:
        keys = [k for k in a.files if k.startswith("ema_generator/")]
        assert keys and set(a.files) == set(b.files)
        for key in keys:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7, err_msg=key)


def test_an_extra_average_of_the_runs_half_life_is_the_runs_own_average_and_resumes_exactly(tmp_path,
                                                                                          deterministic_ops):
    images = blob_images(32)  # 4 steps per epoch
    # half-life 4 steps (32 images); the ramp caps it (at the images seen) for 3 steps, the 96-image one for all 8
    cfg = tiny_config(epochs=3, ema_decay=0.5 ** 0.25, ema_rampup=1.0, g_lr=5e-3)

    def extra(run):
        return [ExtraAverages(run, [32, 96], cfg.batch_size, rampup=cfg.ema_rampup, every=1)]

    straight, split = tmp_path / "straight", tmp_path / "split"
    train(cfg, images, straight, verbose=0, extra_callbacks=extra(straight))
    train(cfg, images, split, kimg=0.04, verbose=0, extra_callbacks=extra(split))  # 5 steps: stops mid-epoch
    assert runs.average_steps(split, 96) == 5
    # The resume finishes epoch 2 and trains epoch 3 (two fits): the averages go on from their files.
    train(cfg, images, split, resume=True, verbose=0, extra_callbacks=extra(split))

    gan = build_gan(cfg)
    runs.restore_checkpoint(straight, gan)
    same, steps = runs.read_average(straight, 32, gan.generator.weights)
    assert steps == 12
    for var, value in zip(gan.ema_generator.weights, same):
        np.testing.assert_allclose(value, var.numpy(), rtol=1e-5, atol=1e-6, err_msg=var.path)
    for h in (32, 96):
        resumed, steps = runs.read_average(split, h, gan.generator.weights)
        assert steps == 12
        for a, b in zip(resumed, runs.read_average(straight, h, gan.generator.weights)[0]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    longer, _ = runs.read_average(straight, 96, gan.generator.weights)
    assert not all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(longer, same))
    # The screen's loader samples from it.
    np.testing.assert_array_equal(generate(load_average(straight, 32), 4, seed=3),
                                  generate(gan.ema_generator, 4, seed=3))
    with pytest.raises(FileNotFoundError, match="no average of half-life 10 images"):
        load_average(straight, 10)


def test_an_extra_average_updated_every_few_steps_decays_by_all_their_images(tmp_path):
    cfg = tiny_config(g_lr=5e-3)  # no average of its own: the extra one starts from the trained generator
    gan = build_gan(cfg)
    initial = [w.numpy().copy() for w in gan.generator.weights]
    recorder, extra = WeightsEachStep(), ExtraAverages(tmp_path, [96], cfg.batch_size, every=3)
    dataset = make_dataset(blob_images(7 * cfg.batch_size), cfg.batch_size, epochs=1)
    gan.fit(dataset, epochs=1, steps_per_epoch=7, callbacks=[recorder, extra], verbose=0, shuffle=False)

    # Updated after steps 3 and 6, and at the epoch's end after step 7: each time by the images since the last.
    b = 0.5 ** (cfg.batch_size / 96)
    want = expected_average(initial, [recorder.steps[2], recorder.steps[5], recorder.steps[6]], [b ** 3, b ** 3, b])
    saved, steps = runs.read_average(tmp_path, 96, gan.generator.weights)
    assert steps == 7
    for value, expected in zip(saved, want):
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)
    every_step = expected_average(initial, recorder.steps, [b] * 7)  # what every=1 would hold: not the same
    assert not all(np.allclose(v, e, rtol=1e-5, atol=1e-6) for v, e in zip(saved, every_step))


def test_everything_that_samples_uses_the_average_and_raw_is_one_flag_away(tmp_path, capsys):
    run = tmp_path / "run"
    cfg = tiny_config(epochs=1, ema_decay=0.9, g_lr=5e-3)
    gan = train(cfg, blob_images(32), run, verbose=0, data_source="synthetic:32")
    z = runs.fixed_latents(run, cfg)
    averaged = to_uint8(gan.ema_generator(z, training=False))
    raw = to_uint8(gan.generator(z, training=False))
    assert not np.array_equal(averaged, raw)

    # The per-epoch grid is drawn by the averaged generator.
    grid = np.asarray(Image.open(run / "samples" / "epoch_0001.png"))
    assert np.array_equal(grid[:16, :16], averaged[0])

    # load_generator: averaged by default, raw on request; generator.keras is the averaged one.
    for ema, source in ((True, gan.ema_generator), (False, gan.generator)):
        loaded = load_generator(run, ema=ema)
        np.testing.assert_array_equal(generate(loaded, 4, seed=5), generate(source, 4, seed=5))
    final = keras.saving.load_model(run / runs.FINAL_GENERATOR, compile=False)
    np.testing.assert_array_equal(generate(final, 4, seed=5), generate(gan.ema_generator, 4, seed=5))
    final_raw = keras.saving.load_model(run / runs.FINAL_RAW_GENERATOR, compile=False)
    np.testing.assert_array_equal(generate(final_raw, 4, seed=5), generate(gan.generator, 4, seed=5))

    # The CLI: sample and evaluate use the average, --raw the trained generator.
    for flag, source in (([], gan.ema_generator), (["--raw"], gan.generator)):
        out = tmp_path / f"samples{len(flag)}"
        assert main(["sample", "--run", str(run), "--n", "2", "--out", str(out), "--seed", "5", *flag]) == 0
        np.testing.assert_array_equal(np.asarray(Image.open(out / "sample_00000.png")), generate(source, 2, seed=5)[0])
    assert main(["evaluate", "--run", str(run), "--n", "8"]) == 0
    assert main(["evaluate", "--run", str(run), "--n", "8", "--raw"]) == 0
    assert "ema generator" in capsys.readouterr().out
    assert [m["generator"] for m in runs.load_metrics(run)] == ["ema", "raw"]


def test_ema_and_loss_fields_validate():
    with pytest.raises(ConfigError, match="ema_decay"):
        tiny_config(ema_decay=1.0)
    with pytest.raises(ConfigError, match="ema_rampup needs ema_decay"):
        tiny_config(ema_rampup=0.05)
    with pytest.raises(ConfigError, match="loss"):
        tiny_config(loss="wasserstein")
    with pytest.raises(ConfigError, match="label_smoothing"):
        tiny_config(loss="hinge", label_smoothing=0.1)


@pytest.mark.parametrize("overrides", [dict(loss="hinge"), dict(d_spectral_norm=True, d_batchnorm=False)])
def test_hinge_loss_and_spectral_norm_train(overrides):
    cfg = tiny_config(**overrides)
    gan, _, _ = train_steps(cfg, steps=2)
    if cfg.d_spectral_norm:
        assert any(isinstance(layer, keras.layers.SpectralNormalization) for layer in gan.discriminator.layers)
    images = generate(gan.generator, 4, seed=0)
    assert images.shape == (4, 16, 16, 3)


def test_the_fast_preset_builds_with_an_averaged_generator():
    gan = build_gan(preset("fast"))
    assert gan.ema_generator is not None and gan.ema_decay > 0
    assert [w.shape for w in gan.ema_generator.weights] == [w.shape for w in gan.generator.weights]
    for shadow, var in zip(gan.ema_generator.weights, gan.generator.weights):
        np.testing.assert_array_equal(shadow.numpy(), var.numpy())  # the average starts at the initial weights
    assert gan.generate(np.zeros((2, 100), np.float32)).shape == (2, 64, 64, 3)


def test_spectral_norm_divides_each_kernel_by_its_power_iteration_estimate():
    # numpy's own power iteration (one step from the layer's stored u, as Keras does per training call), then SVD
    from animegan_tf.models import build_discriminator

    cfg = tiny_config(d_spectral_norm=True, d_batchnorm=False)
    d = build_discriminator(cfg, dtype="float32")
    wrapped = [layer for layer in d.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert [layer.name for layer in wrapped] == ["down1_sn", "down2_sn", "logit_conv_sn"]  # every D conv
    before = [(layer.kernel.numpy().copy(), layer.vector_u.numpy().copy()) for layer in wrapped]
    x = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    d(x, training=True)
    for layer, (kernel, u) in zip(wrapped, before):
        w = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
        v = u @ w.T
        v /= np.linalg.norm(v)
        u = v @ w
        u /= np.linalg.norm(u)
        sigma = float((v @ w @ u.T).squeeze())
        np.testing.assert_allclose(layer.kernel.numpy(), kernel / sigma, rtol=1e-4, atol=1e-7, err_msg=layer.name)
    d(x, training=False)  # inference leaves the kernels as they are
    for _ in range(30):
        d(x, training=True)
    for layer in wrapped:
        w = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1])
        assert np.linalg.svd(w, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3), layer.name
