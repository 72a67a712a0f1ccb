import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from animegan_tf import runs
from animegan_tf.data import make_dataset
from animegan_tf.files import to_uint8
from animegan_tf.precision import resolve_precision
from animegan_tf.sampling import build_gan, generate, latents
from animegan_tf.training import train
from conftest import blob_images, position, tiny_config


def snapshot(model):
    return [w.numpy().copy() for w in model.weights]


def moving_stats(model):
    return [w.numpy().copy() for w in model.weights if "moving" in w.path]


@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_one_step_updates_both_networks_and_batchnorm_statistics(precision):
    cfg = tiny_config(precision=precision)
    gan = build_gan(cfg)
    if precision == "mixed_float16":
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert gan.generator.get_layer("up1").compute_dtype == "float16"
    g0, d0 = snapshot(gan.generator), snapshot(gan.discriminator)
    g_moving0, d_moving0 = moving_stats(gan.generator), moving_stats(gan.discriminator)
    dataset = make_dataset(blob_images(16), cfg.batch_size, epochs=1, dtype=gan.generator.compute_dtype)
    history = gan.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False).history

    for name in ("g_loss", "d_loss", "d_real_loss", "d_fake_loss", "d_real_mean", "d_fake_mean"):
        assert np.isfinite(history[name][0]), name
    changed = lambda before, after: sum(not np.array_equal(a, b) for a, b in zip(before, after))
    assert changed(g0, snapshot(gan.generator)) > 0
    assert changed(d0, snapshot(gan.discriminator)) > 0
    # Every BatchNorm's moving mean/variance moved (training=True was passed in train_step).
    assert len(g_moving0) > 0 and changed(g_moving0, moving_stats(gan.generator)) == len(g_moving0)
    assert changed(d_moving0, moving_stats(gan.discriminator)) == len(d_moving0)
    assert int(gan.d_optimizer.iterations.numpy()) == 1 and int(gan.g_optimizer.iterations.numpy()) == 1
    # the two optimizers are the only ones: no unused default optimizer for fit() to build and TensorBoard to log
    assert gan.optimizer is None


def test_two_steps_under_mirrored_strategy_on_two_cpu_devices():
    cfg = tiny_config(strategy="mirrored")
    from animegan_tf.precision import make_strategy

    strategy = make_strategy(cfg)
    assert strategy.num_replicas_in_sync == 2
    gan = build_gan(cfg, strategy)
    g0 = snapshot(gan.generator)
    dataset = make_dataset(blob_images(16), cfg.batch_size, epochs=1)
    history = gan.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False).history
    assert all(np.isfinite(v[0]) for v in history.values())
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert any(not np.array_equal(a, b) for a, b in zip(g0, snapshot(gan.generator)))


def softplus(x):
    return float(np.log1p(np.exp(x)))


def constant_logit_gan(cfg, logit):
    """A built GAN whose D says `logit` to every image: every D kernel and bias zero but the head's bias. Then one
    step's losses have closed forms, and only the head's bias moves in the D update (Adam's first step moves it by
    exactly d_lr against the sign of its gradient; every other D gradient is zero)."""
    gan = build_gan(cfg)
    for weight in gan.discriminator.weights:
        weight.assign(np.zeros(weight.shape, np.float32))
    head = gan.discriminator.get_layer("logit_conv")
    head.bias.assign(np.full(head.bias.shape, logit, np.float32))
    return gan


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("strategy", ["default", "mirrored"])
@pytest.mark.parametrize("loss,smoothing", [("nonsaturating", 0.0), ("nonsaturating", 0.1), ("hinge", 0.0)])
def test_one_step_losses_equal_their_hand_computed_values(strategy, loss, smoothing):
    b, lr = 0.7, 2e-4
    cfg = tiny_config(d_batchnorm=False, loss=loss, label_smoothing=smoothing, d_lr=lr, strategy=strategy)
    gan = constant_logit_gan(cfg, b)
    dataset = make_dataset(blob_images(16), cfg.batch_size, epochs=1)
    h = {k: v[0] for k, v in gan.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False).history.items()}
    if loss == "hinge":
        real, fake = max(0.0, 1 - b), max(0.0, 1 + b)
        b_after = b  # |b| < 1: both hinge terms have slope 1 and -1 in b, the gradient is 0 and Adam does not move
        g = -b_after
    else:
        real = (1 - smoothing) * softplus(-b) + smoothing * softplus(b)  # BCE against target 1 - smoothing
        fake = softplus(b)
        grad = (sigmoid(b) - (1 - smoothing)) + sigmoid(b)
        b_after = b - lr * np.sign(grad)
        g = softplus(-b_after)  # G is scored by the updated D (target 1, never smoothed)
    # mirrored: per-replica losses are averaged over the global batch and summed across replicas, so the tracked
    # values are the plain means (a wrong scale would give half or double)
    assert h["d_real_loss"] == pytest.approx(real, rel=1e-5)
    assert h["d_fake_loss"] == pytest.approx(fake, rel=1e-5)
    assert h["d_loss"] == pytest.approx(real + fake, rel=1e-5)
    assert h["g_loss"] == pytest.approx(g, rel=1e-5)
    assert h["d_real_mean"] == pytest.approx(sigmoid(b), rel=1e-5)
    assert float(gan.discriminator.get_layer("logit_conv").bias.numpy()[0]) == pytest.approx(b_after, rel=1e-6)


def test_generator_learns_a_trivial_dataset():
    # Every real image is the same flat colour: the generator's mean output must move toward it. D has no
    # BatchNorm here: on a constant batch BN would subtract the very mean colour the test is about.
    target = np.array([220, 60, 30], np.uint8)
    images = np.broadcast_to(target, (64, 16, 16, 3)).copy()
    cfg = tiny_config(g_lr=1e-3, d_lr=1e-3, epochs=20, batch_size=16, d_batchnorm=False)
    gan = build_gan(cfg)
    z = np.random.default_rng(0).standard_normal((64, cfg.latent_dim)).astype(np.float32)
    goal = target / 127.5 - 1.0

    def distance():
        return float(np.abs(gan.generate(z).numpy().mean(axis=(0, 1, 2)) - goal).mean())

    before = distance()
    gan.fit(make_dataset(images, cfg.batch_size, cfg.epochs), epochs=cfg.epochs, steps_per_epoch=4, verbose=0, shuffle=False)
    after = distance()
    assert before > 0.4
    assert after < 0.3 * before, (before, after)


@pytest.fixture
def deterministic_ops():
    # TensorFlow cannot turn this off again; the rest of the session runs deterministic ops, which is harmless.
    tf.config.experimental.enable_op_determinism()


def run_state(run_dir):
    with np.load(run_dir / runs.CHECKPOINT) as ckpt:
        return {k: ckpt[k] for k in ckpt.files}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if key == "meta":
            continue
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7, err_msg=key)


def test_resume_continues_exactly(tmp_path, deterministic_ops):
    images = blob_images(32)
    cfg = tiny_config(epochs=2)
    train(cfg, images, tmp_path / "straight", verbose=0)

    train(cfg.replace(epochs=1), images, tmp_path / "resumed", verbose=0)
    assert position(runs.checkpoint_meta(tmp_path / "resumed")) == (1, 0)
    train(cfg, images, tmp_path / "resumed", resume=True, verbose=0)

    straight, resumed = run_state(tmp_path / "straight"), run_state(tmp_path / "resumed")
    assert position(runs.checkpoint_meta(tmp_path / "resumed")) == (2, 0)
    assert_same_state(straight, resumed)
    assert len(runs.load_history(tmp_path / "resumed")["epoch"]) == 2
    assert (tmp_path / "resumed" / "generator.keras").exists()
    assert (tmp_path / "resumed" / "samples" / "epoch_0002.png").exists()


def test_time_budget_stops_mid_epoch_and_resume_finishes_exactly(tmp_path, deterministic_ops):
    images = blob_images(32)  # 4 steps per epoch
    cfg = tiny_config(epochs=2)
    train(cfg, images, tmp_path / "straight", verbose=0)

    train(cfg, images, tmp_path / "budget", max_minutes=1e-9, verbose=0)  # stops after the first step
    assert position(runs.checkpoint_meta(tmp_path / "budget")) == (0, 1)
    assert not (tmp_path / "budget" / "generator.keras").exists()
    train(cfg, images, tmp_path / "budget", resume=True, verbose=0)
    assert position(runs.checkpoint_meta(tmp_path / "budget")) == (2, 0)
    assert_same_state(run_state(tmp_path / "straight"), run_state(tmp_path / "budget"))


def test_an_auto_precision_run_resumes_in_the_policy_it_started_in(tmp_path):
    # A run started where `auto` picked another policy (mixed_float16 on a GPU; float32 if this machine is one):
    # its config says auto, its checkpoint holds that policy's variables (loss scales under float16).
    here = resolve_precision(tiny_config(precision="auto"))
    started = "mixed_float16" if here != "mixed_float16" else "float32"
    run, images = tmp_path / "r", blob_images(16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mixed_float16 on a CPU warns that it is emulated
        train(tiny_config(epochs=1, precision=started), images, run, verbose=0)
    assert runs.checkpoint_meta(run)["precision"] == started
    runs.write_config(run, runs.load_config(run).replace(precision="auto"))
    with pytest.warns(UserWarning, match=f"started in {started}, and continues in it"):
        gan = train(tiny_config(epochs=2, precision="auto"), images, run, verbose=0, resume=True)
    assert gan.generator.get_layer("up1").dtype_policy.name == started
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer) == (started == "mixed_float16")
    assert position(runs.checkpoint_meta(run)) == (2, 0) and runs.checkpoint_meta(run)["precision"] == started


def test_array_slices_pipeline_trains(tmp_path):
    cfg = tiny_config(data_pipeline="array_slices", epochs=1, d_head="dense", d_batchnorm=False, g_batchnorm=False)
    gan = train(cfg, blob_images(24), tmp_path / "s1", verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 3
    assert (tmp_path / "s1" / "losses.png").exists()


def test_refuses_to_overwrite_a_run_without_resume(tmp_path):
    cfg = tiny_config(epochs=1)
    train(cfg, blob_images(8), tmp_path / "run", verbose=0)
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, blob_images(8), tmp_path / "run", verbose=0)


def test_generate_draws_the_latents_of_its_seed_in_order():
    g = build_gan(tiny_config()).generator
    z = latents(5, 3, g.input_shape[-1])
    assert z.shape == (3, g.input_shape[-1]) and z.dtype == np.float32
    np.testing.assert_array_equal(latents(5, 1, g.input_shape[-1])[0], z[0])  # face 0 is the same for any n
    assert not np.array_equal(latents(6, 1, g.input_shape[-1])[0], z[0])
    np.testing.assert_array_equal(generate(g, 3, seed=5), to_uint8(g(z, training=False)))


def test_lazy_r1_adds_the_exact_penalty_on_every_nth_step_only():
    gamma, every = 3.0, 2
    cfg = tiny_config(d_batchnorm=False, r1_gamma=gamma, r1_every=every)
    gan = build_gan(cfg)
    plain = build_gan(cfg.replace(r1_gamma=0.0))
    real = (blob_images(8).astype(np.float32) / 127.5 - 1.0)
    dataset = tf.data.Dataset.from_tensor_slices(real).batch(8).repeat()

    def expected_penalty():
        # computed here, eagerly, with a tape: gamma / 2 * mean over the batch of ||grad_x D(x)||^2
        x = tf.constant(real)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(gan.discriminator(x, training=True))
        grads = tape.gradient(total, x).numpy()
        return gamma / 2 * float(np.mean(np.sum(grads ** 2, axis=(1, 2, 3))))

    seen = []
    for step in range(3):
        want = every * expected_penalty() if step % every == 0 else 0.0
        got = gan.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False).history["d_r1"][0]
        seen.append((got, want))
        if want == 0.0:
            assert got == 0.0
        else:
            assert got == pytest.approx(want, rel=1e-4), step
        if step == 0:  # the penalty reached D's update: same start, same batch, different D after one step
            plain.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
            assert any(not np.allclose(a, b) for a, b in zip(snapshot(gan.discriminator),
                                                              snapshot(plain.discriminator)))
    assert seen[0][1] > 0 and seen[2][1] > 0
