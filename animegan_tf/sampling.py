"""Generators in and faces out: build a run's DCGAN, load a run's generator, draw latents and images.

Training, evaluation, the CLI and the web page all sample through this module.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .backend import keras, tf
from . import runs
from .config import GANConfig, diffaugment_policies
from .files import to_uint8
from .gan import DCGAN
from .models import build_discriminator, build_generator
from .precision import make_strategy, resolve_precision
from .quantize import load_int8


def build_gan(cfg: GANConfig, strategy: tf.distribute.Strategy | None = None, policy: str | None = None) -> DCGAN:
    """Models and optimizers built and compiled inside the strategy's scope.

    Args:
        policy: the Keras dtype policy to build in; None = what `cfg.precision` resolves to on this machine.
    """
    strategy = strategy or make_strategy(cfg)
    policy = policy or resolve_precision(cfg)
    keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        gan = DCGAN(build_generator(cfg, dtype=policy), build_discriminator(cfg, dtype=policy),
                    latent_dim=cfg.latent_dim, label_smoothing=cfg.label_smoothing, seed=cfg.seed,
                    diffaugment=diffaugment_policies(cfg), loss=cfg.loss,
                    ema_generator=build_generator(cfg, dtype=policy) if cfg.averaged else None,
                    ema_decay=cfg.ema_decay, ema_rampup=cfg.ema_rampup, r1_gamma=cfg.r1_gamma,
                    r1_every=cfg.r1_every)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(cfg.d_lr, beta_1=cfg.beta_1, beta_2=cfg.beta_2),
            g_optimizer=keras.optimizers.Adam(cfg.g_lr, beta_1=cfg.beta_1, beta_2=cfg.beta_2),
            loss_scale=policy == "mixed_float16",
            jit_compile={"auto": "auto", "on": True, "off": False}[cfg.jit_compile],
        )
        gan.build_optimizers()
    return gan


def load_generator(run_dir: Path, ema: bool = True, state: str = "latest") -> keras.Sequential:
    """The generator of a run folder at its latest checkpoint (float32, inference ready).

    Args:
        ema: the averaged generator when the run keeps one (`ema_decay > 0`); False = the raw, trained one.
        state: "latest" (the default: the state training would continue from, what the run is now) or "best"
            (checkpoints/best.npz, the state with the lowest KID measured during training: runs with eval_every).
    """
    cfg = runs.load_config(run_dir).replace(precision="float32")
    group = "ema_generator" if ema and cfg.ema_decay else "generator"
    generator = build_generator(cfg, dtype="float32")
    if state == "best":
        best = Path(run_dir) / runs.BEST_CHECKPOINT
        if not best.exists():
            raise FileNotFoundError(f"run folder has no {runs.BEST_CHECKPOINT} (it is kept when the run measures "
                                    f"KID during training: --set eval_every=K): {run_dir}")
        with np.load(best) as saved:
            runs.read_group(saved, group, generator.weights, best)
        return generator
    if state != "latest":
        raise ValueError(f"state must be 'latest' or 'best', got {state!r}")
    found = runs.readable_checkpoint(run_dir)
    if found:
        with np.load(found[0]) as state:
            runs.read_group(state, group, generator.weights, found[0])  # the averaged one has the same names
        return generator
    sampling = group == "ema_generator" or not cfg.ema_decay
    final = Path(run_dir) / (runs.FINAL_GENERATOR if sampling else runs.FINAL_RAW_GENERATOR)
    if final.exists():
        return keras.saving.load_model(final, compile=False)
    packed = Path(run_dir) / runs.INT8_GENERATOR  # a shipped generator stored in int8: only the sampling one
    if sampling and packed.exists():
        runs.read_group(load_int8(packed), "generator", generator.weights, packed)
        return generator
    also = f" or {runs.INT8_GENERATOR}" if sampling else ""
    raise FileNotFoundError(f"run folder has no checkpoint and no {final.name}{also}: {run_dir}")


def load_average(run_dir: Path, halflife: int) -> keras.Sequential:
    """A run's averaged generator of `halflife` images kept beside its own (callbacks.ExtraAverages), float32,
    inference ready."""
    generator = build_generator(runs.load_config(run_dir).replace(precision="float32"), dtype="float32")
    saved = runs.read_average(run_dir, halflife, generator.weights)
    if saved is None:
        raise FileNotFoundError(f"run folder keeps no average of half-life {halflife} images: "
                                f"{runs.average_path(run_dir, halflife)}")
    generator.set_weights(saved[0])
    return generator


def export_generator(run_dir: Path, out_dir: Path, made: dict, config: GANConfig | None = None, int8: bool = False,
                     average: int | None = None) -> Path:
    """runs.export_pretrained of a finished run's sampling generator (its generator.keras) or, with `average`, of
    the averaged generator of that half-life in images it kept beside its own (callbacks.ExtraAverages, as
    `load_average` reads it).

    Args:
        int8: store it as generator_int8.npz (quantize.py, about a quarter of the bytes), for a generator too large
            to ship in float32.
        config: as runs.export_pretrained (default the run's own).
    """
    final = runs.finished_generator(run_dir)  # a finished run's, even where a kept average ships
    if average is None and not int8:
        return runs.export_pretrained(run_dir, out_dir, made, config=config)
    if average is None:
        # Keyed as load_generator's freshly built model names its variables (a loaded .keras names them without
        # the model's scope), so the file is read by name like a checkpoint.
        generator = build_generator(runs.load_config(run_dir).replace(precision="float32"), dtype="float32")
        generator.set_weights(keras.saving.load_model(final, compile=False).get_weights())
    else:
        generator = load_average(run_dir, average)
    if not int8:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / runs.FINAL_GENERATOR
            generator.save(source)
            return runs.export_pretrained(run_dir, out_dir, made, config=config, source=source)
    names = runs.variable_keys("generator", generator.weights)
    weights = {name: keras.ops.convert_to_numpy(w) for name, w in zip(names, generator.weights)}
    # Conv2DTranspose kernels are (h, w, out, in): their output channels are the second-to-last axis.
    transposed = {id(layer.kernel) for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)}
    axes = {name: -2 for name, w in zip(names, generator.weights) if id(w) in transposed}
    return runs.export_pretrained(run_dir, out_dir, made, int8_weights=weights, int8_axes=axes, config=config)


def latents(seed: int, n: int, latent_dim: int) -> np.ndarray:
    """The n latents z ~ N(0, I) that `generate` draws with `seed`, (n, latent_dim) float32; row i is face i."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def generate(generator, n: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """n uint8 images (n, S, S, 3) from z = latents(seed, n, latent_dim)."""
    z = latents(seed, n, generator.input_shape[-1])
    out = [to_uint8(generator(z[i:i + batch_size], training=False)) for i in range(0, n, batch_size)]
    return np.concatenate(out) if out else np.zeros((0,) + generator.output_shape[1:], np.uint8)
