"""One config object for every knob of a DCGAN run, the named presets, validation and overrides.

A preset is a small set of overrides of the defaults (see `PRESETS`), never a copy of them. Configs round-trip
through JSON (`to_json` / `from_json`) and take command-line overrides (`apply_overrides(cfg, ["g_lr=1e-4"])`).
Validation is strict: an unknown key, a wrong type or an out-of-range value raises `ConfigError` naming the field
and the allowed range.

BatchNorm momentum convention
-----------------------------
Keras keeps ``moving = m * moving + (1 - m) * batch``: the momentum is the weight of the *old* average. PyTorch's
momentum is the weight of the *new* batch. So Keras 0.9 equals PyTorch 0.1 (PyTorch's default), and seed 003's
Keras momentum 0.8 equals PyTorch 0.2. Every momentum in this module is in the Keras convention.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


class ConfigError(ValueError):
    """A config field has an unknown name, a wrong type or a value outside its allowed range."""


@dataclass(frozen=True)
class GANConfig:
    name: str = "dcgan"  # preset this config came from (informational)
    # --- data -------------------------------------------------------------------------------------------------
    image_size: int = 64  # side of the square images, a power of two >= 16
    channels: int = 3  # 3 = RGB
    data_pipeline: str = "tfdata"  # "tfdata" (shuffled tf.data) or "array_slices" (seed 003 scenario 1: x[i*B:(i+1)*B])
    # --- augmentation (all off by default; seeded, so resumes augment identically) -----------------------------
    aug_flip: bool = False  # random horizontal flip, p = 0.5 (seeds 000/001)
    aug_sharpness: float = 0.0  # sharpness factor applied with p = 0.5, e.g. 2.0 (seed 001); 0 = off
    aug_color_jitter: float = 0.0  # brightness/contrast/saturation scaled by U(1-s, 1+s) per image; 0 = off
    aug_blur: float = 0.0  # Gaussian blur with sigma ~ U(0.1, aug_blur), p = 0.5 (seed 000); 0 = off
    diffaugment: str = ""  # DiffAugment in train_step on real and fake: comma-separated color,translation,cutout
    # --- generator --------------------------------------------------------------------------------------------
    latent_dim: int = 100  # size of z ~ N(0, I)
    g_projection: str = "conv"  # z -> 4x4 map: "conv" (ConvTranspose k4 on 1x1, DCGAN) or "dense" (Dense + reshape)
    g_base_filters: int = 512  # channels of the 4x4 map the latent is projected to
    g_filters: tuple[int, ...] = (256, 128, 64)  # channels after each hidden 2x upsampling; the last one outputs RGB
    g_kernel_size: int = 4  # kernel of the generator's (transposed) convolutions
    upsampling: str = "transpose"  # "transpose" (Conv2DTranspose s2) or "resize" (nearest 2x + Conv2D: no checkerboard)
    g_batchnorm: bool = True  # BatchNorm after every generator layer but the output
    g_bn_momentum: float = 0.9  # Keras convention (0.9 = PyTorch 0.1), see module docstring
    g_bn_epsilon: float = 1e-5  # PyTorch's default
    # --- discriminator ----------------------------------------------------------------------------------------
    d_filters: tuple[int, ...] = (64, 128, 256, 512)  # channels of each stride-2 convolution
    d_kernel_size: int = 4  # kernel of the discriminator's convolutions
    d_head: str = "conv"  # logits from "conv" (k4 valid over the 4x4 map) or "dense" (Flatten + Dense(1))
    d_batchnorm: bool = True  # BatchNorm after every discriminator conv but the logit layer
    d_bn_input: bool = True  # with d_batchnorm: BatchNorm after the first conv too (the DCGAN paper and PyTorch leave it out)
    d_bn_momentum: float = 0.9  # Keras convention
    d_bn_epsilon: float = 1e-5
    leaky_slope: float = 0.2  # LeakyReLU negative slope in the discriminator
    d_spectral_norm: bool = False  # keras.layers.SpectralNormalization around every discriminator convolution
    d_dropout: float = 0.0  # dropout after each discriminator block (0 = none)
    # --- initialisation ---------------------------------------------------------------------------------------
    init: str = "truncated_normal"  # "truncated_normal" (mean 0, init_stddev) or "default" (Keras glorot_uniform)
    init_stddev: float = 0.02  # stddev of the truncated-normal kernels (DCGAN paper: 0.02)
    # --- optimisation -----------------------------------------------------------------------------------------
    g_lr: float = 2e-4  # generator Adam learning rate
    d_lr: float = 2e-4  # discriminator Adam learning rate (TTUR when different from g_lr)
    beta_1: float = 0.5  # Adam beta_1 (DCGAN paper: 0.5)
    beta_2: float = 0.999  # Adam beta_2
    batch_size: int = 128  # global batch size (split across replicas)
    epochs: int = 25  # epochs to train
    label_smoothing: float = 0.0  # one-sided: real targets become 1 - label_smoothing (non-saturating loss only)
    loss: str = "nonsaturating"  # "nonsaturating" (BCE, -log D(G(z)) for G) or "hinge" (SAGAN/BigGAN)
    # Lazy R1 (Mescheder et al. 2018; StyleGAN2): on every r1_every-th D step, D's loss gains
    # r1_every * r1_gamma / 2 * E||grad_x D(x_real)||^2, computed inside the compiled step; 0 = off. With BatchNorm
    # in D (d_batchnorm, as in `fast`) the batch statistics tie each output to the whole batch, so this is the
    # gradient of the batch's summed logits, not StyleGAN2's per-image penalty (which has no BatchNorm in D).
    r1_gamma: float = 0.0
    r1_every: int = 16
    # --- generator weight averaging (EMA) -----------------------------------------------------------------------
    # A shadow copy of G (every weight, BatchNorm moving statistics included) follows the trained G inside the
    # compiled step: ema = d * ema + (1 - d) * g. Sampling (grids, `sample`, `evaluate`, generator.keras) uses it.
    # Half-life in images = batch_size * ln(0.5) / ln(ema_decay): 0.999 at batch 64 is ~44k images.
    ema_decay: float = 0.0  # per-step decay of the averaged generator; 0 = off
    ema_rampup: float = 0.0  # half-life capped at ema_rampup * images seen (StyleGAN2-ADA: 0.05); 0 = no ramp
    # --- runtime ----------------------------------------------------------------------------------------------
    precision: str = "auto"  # float32 | mixed_float16 | mixed_bfloat16 | auto (f16 on GPU, measured fastest on CPU)
    jit_compile: str = "auto"  # XLA: "auto" (Keras: on for GPUs, off on CPU-only machines), "on" or "off"
    strategy: str = "default"  # tf.distribute strategy: "default" (one device) or "mirrored" (all local devices)
    # every K epochs: KID + GQ/DQ/PQ of eval_samples into metrics.jsonl, best.npz by KID; 0 = off. One evaluation
    # of 500 costs about 5 kimg of `fast` training on a 2-core CPU (the first of a process ~200 s more): keep >= ~50
    # kimg between them for ~10 % of the run (10 epochs of 4,529 faces; BENCHMARKS.md, "What measuring ... costs").
    eval_every: int = 0
    eval_samples: int = 500  # samples per evaluation during training
    seed: int = 0  # seeds weights, data order, z and the fixed sample z
    num_samples: int = 64  # images in the per-epoch sample grid (a square number)
    tensorboard: bool = False  # log epoch losses, sample grids and evaluation metrics to <run>/tb/ (TensorBoard)

    def __post_init__(self):
        # JSON gives lists; the config is frozen and hashable, so keep tuples.
        for name in ("g_filters", "d_filters"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        validate(self)

    @property
    def averaged(self) -> bool:
        """Whether the run keeps an averaged (EMA) generator beside the trained one; it then samples with it."""
        return self.ema_decay > 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> GANConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key {unknown[0]!r} (see `animegan-tf presets` for the fields)")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> GANConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes) -> GANConfig:
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------------

_CHOICES = {
    "data_pipeline": ("tfdata", "array_slices"),
    "g_projection": ("conv", "dense"),
    "upsampling": ("transpose", "resize"),
    "d_head": ("conv", "dense"),
    "init": ("truncated_normal", "default"),
    "precision": PRECISIONS,
    "strategy": ("default", "mirrored"),
    "jit_compile": ("auto", "on", "off"),
    "loss": ("nonsaturating", "hinge"),
}


def _check_type(f: dataclasses.Field, value) -> None:
    expected = f.type if isinstance(f.type, str) else f.type.__name__
    if expected == "tuple[int, ...]":
        ok = isinstance(value, tuple) and len(value) > 0 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)
        if not ok:
            raise ConfigError(f"{f.name} must be a non-empty list of integers, got {value!r}")
        return
    types = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}[expected]
    if isinstance(value, bool) and expected != "bool":
        raise ConfigError(f"{f.name} must be {expected}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"{f.name} must be {expected}, got {type(value).__name__} {value!r}")


def _check_range(name: str, value, low, high, low_open=False, high_open=False) -> None:
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ConfigError(f"{name}={value!r} is out of range: allowed {lo}{low}, {high}{hi}")


def diffaugment_policies(cfg: GANConfig) -> tuple[str, ...]:
    return tuple(p.strip() for p in cfg.diffaugment.split(",") if p.strip())


def validate(cfg: GANConfig) -> None:
    """Raise ConfigError naming the first field with a wrong type or an out-of-range value."""
    for f in fields(cfg):
        _check_type(f, getattr(cfg, f.name))
    for name, choices in _CHOICES.items():
        if getattr(cfg, name) not in choices:
            raise ConfigError(f"{name}={getattr(cfg, name)!r} is not allowed: choose one of {', '.join(choices)}")
    size = cfg.image_size
    if size < 16 or size & (size - 1):
        raise ConfigError(f"image_size={size} is out of range: allowed a power of two >= 16")
    for name in ("g_lr", "d_lr", "init_stddev"):
        _check_range(name, getattr(cfg, name), 0, math.inf, low_open=True)
    for name in ("g_bn_momentum", "d_bn_momentum", "beta_1", "beta_2"):
        _check_range(name, getattr(cfg, name), 0, 1, high_open=True)
    for name in ("g_bn_epsilon", "d_bn_epsilon"):
        _check_range(name, getattr(cfg, name), 0, 1, low_open=True, high_open=True)
    for name in ("label_smoothing", "d_dropout"):
        _check_range(name, getattr(cfg, name), 0, 1, high_open=True)
    _check_range("leaky_slope", cfg.leaky_slope, 0, 1)
    _check_range("r1_gamma", cfg.r1_gamma, 0, math.inf)
    _check_range("ema_decay", cfg.ema_decay, 0, 1, high_open=True)
    _check_range("ema_rampup", cfg.ema_rampup, 0, 1)
    if cfg.ema_rampup and not cfg.ema_decay:
        raise ConfigError("ema_rampup needs ema_decay > 0 (the ramp caps the averaged generator's half-life)")
    if cfg.loss == "hinge" and cfg.label_smoothing:
        raise ConfigError("label_smoothing applies to loss='nonsaturating' only (hinge has no targets to smooth)")
    _check_range("aug_sharpness", cfg.aug_sharpness, 0, 10)
    _check_range("aug_color_jitter", cfg.aug_color_jitter, 0, 1, high_open=True)
    if cfg.aug_blur and not 0.1 < cfg.aug_blur <= 5:
        raise ConfigError(f"aug_blur={cfg.aug_blur!r} is out of range: allowed 0 (off) or (0.1, 5]")
    if cfg.data_pipeline == "array_slices" and (cfg.aug_flip or cfg.aug_sharpness or cfg.aug_color_jitter
                                                 or cfg.aug_blur):
        raise ConfigError("aug_* augmentations need data_pipeline='tfdata' (array_slices is seed 003's plain "
                          "in-order slicing)")
    for policy in diffaugment_policies(cfg):
        if policy not in ("color", "translation", "cutout"):
            raise ConfigError(f"diffaugment={cfg.diffaugment!r}: {policy!r} is not allowed: use a comma-separated "
                              f"subset of color, translation, cutout")
    _check_range("eval_every", cfg.eval_every, 0, math.inf)
    for name in ("r1_every", "eval_samples", "batch_size", "latent_dim", "g_base_filters", "g_kernel_size", "d_kernel_size", "channels",
                 "epochs", "num_samples"):
        _check_range(name, getattr(cfg, name), 1, math.inf)
    for name in ("g_filters", "d_filters"):
        if min(getattr(cfg, name)) < 1:
            raise ConfigError(f"{name}={list(getattr(cfg, name))} is out of range: every entry must be >= 1")
    # The generator doubles the 4x4 map once per g_filters entry plus once for the output layer.
    needed = int(math.log2(size // 4)) - 1
    if len(cfg.g_filters) != needed:
        raise ConfigError(f"g_filters needs exactly {needed} entries for image_size={size} "
                          f"(4x4 doubled {needed + 1} times), got {len(cfg.g_filters)}")
    max_d = int(math.log2(size // 4))
    if len(cfg.d_filters) > max_d:
        raise ConfigError(f"d_filters allows at most {max_d} entries for image_size={size}, got {len(cfg.d_filters)}")
    if cfg.d_head == "conv" and len(cfg.d_filters) != max_d:
        raise ConfigError(f"d_head='conv' needs d_filters to reach 4x4: exactly {max_d} entries for "
                          f"image_size={size}, got {len(cfg.d_filters)} (or use d_head=dense)")
    if math.isqrt(cfg.num_samples) ** 2 != cfg.num_samples:
        raise ConfigError(f"num_samples={cfg.num_samples} is out of range: allowed a square number (16, 25, 64, ...)")


# ---------------------------------------------------------------------------------------------------------------
# Presets: small sets of overrides of the GANConfig defaults
# ---------------------------------------------------------------------------------------------------------------

PRESETS: dict[str, dict] = {
    # The textbook DCGAN (Radford et al.; PyTorch's dcgan example; seed 001's tables). The defaults above are this
    # preset: G ConvTranspose 512-256-128-64-3 k4 with BN+ReLU and tanh, D Conv 64-128-256-512-1 k4 s2 with
    # BN+LeakyReLU(0.2), Adam 2e-4 / beta_1 0.5, batch 128, BN momentum 0.9 (Keras) = 0.1 (PyTorch), eps 1e-5.
    # D's input layer has BatchNorm too, as in seed 001's tables; PyTorch's example and the paper leave that one
    # out (d_bn_input=False).
    "dcgan": {},
    # The first CPU recipe (BENCHMARKS.md, "A CPU recipe"; `fast` until 2026-11-30, the recipe of the README's
    # 20-minute figures; a lever of notebook 03): the dcgan architecture at half width, batch 64, no
    # BatchNorm on the discriminator's input layer (as in the DCGAN paper and PyTorch's example; with it, this
    # width collapsed to noise), and an averaged generator whose half-life ramps up with the images seen.
    "fast-v1": dict(
        g_base_filters=256, g_filters=(128, 64, 32), d_filters=(32, 64, 128, 256), d_bn_input=False,
        batch_size=64, epochs=60, ema_decay=0.999, ema_rampup=0.05),
    # The second CPU recipe (`fast` from 2026-11-30 until beta_1 0; the pretrained generator's recipe): fast-v1 with
    # Adam 1e-3 / beta (0.5, 0.99) for both networks and lazy R1 (gamma 0.1 every 16 D steps). Chosen at equal
    # images shown on real faces (BENCHMARKS.md, "Recipe screen"): FID 316 -> 176 at 200 kimg on the calib faces.
    "fast-v2": dict(g_lr=1e-3, d_lr=1e-3, beta_2=0.99, r1_gamma=0.1),
    # The CPU recipe: fast-v2 with Adam beta_1 = 0 (as StyleGAN2-ADA). BENCHMARKS.md, "Adam with beta_1 = 0 on
    # `fast`": FID 99.7 +- 3.6 at 400 kimg on the calib faces (3 seeds), against fast-v2's 112.1 +- 0.9.
    "fast": dict(beta_1=0.0),
    # The first recipe per image (`fast-wide` until 2026-12-05): fast at the dcgan widths (G 512-256-128-64,
    # D 64-128-256-512), 3.9x fast's arithmetic per image. BENCHMARKS.md, "`fast` at the `dcgan` widths": FID
    # 78.5 +- 2.5 at 400 kimg on the calib faces (3 seeds, bf16) against fast's 99.7 +- 3.6 (3 seeds, float32; 98.6
    # on seed 0 in bf16); 71.8 +- 3.0 on calib + more (3 seeds) against fast's 93.6 +- 2.8; FID 52.5 at 2,000 kimg
    # on calib + more (seed 1; `--pretrained fast-wide-v1`). fast stays the CPU recipe: ~3x the seconds per image.
    "fast-wide-v1": dict(g_base_filters=512, g_filters=(256, 128, 64), d_filters=(64, 128, 256, 512)),
    # The recipe per image: fast-wide-v1 with random x-flips of the real faces. BENCHMARKS.md, "x-flips on
    # `fast-wide`": FID 48.1 and 50.1 at 2,000 kimg on calib + more (seeds 2 and 1) against 54.6 and 52.5 without.
    "fast-wide": dict(aug_flip=True),
    # Seed 003, first scenario: latent projected by a Dense layer to 512x4x4, then 4 ConvTranspose k4 with
    # 32, 64, 128 and 3 filters; D is 2 Conv2D(32, k3, s2) then Flatten + Dense(1); Adam 2e-4, beta_1 0.5, batch 256,
    # 100 epochs, batches sliced from an in-memory array. The seed tuned "manually" and names no BatchNorm (the
    # second scenario is where it adds BN), no dropout and no init: we use no BN in either network, Keras' default
    # initialiser, LeakyReLU(0.2) in D and ReLU in G, and latent 100 as in the DCGAN paper.
    "scenario1": dict(
        data_pipeline="array_slices", g_projection="dense", g_base_filters=512, g_filters=(32, 64, 128),
        g_batchnorm=False, d_filters=(32, 32), d_kernel_size=3, d_head="dense", d_batchnorm=False,
        init="default", batch_size=256, epochs=100),
    "scenario1-lr1e-4": dict(g_lr=1e-4, d_lr=1e-4),
    "scenario1-lr3e-4": dict(g_lr=3e-4, d_lr=3e-4),
    # Seed 003, second scenario: tf.data pipeline and float16 mixed precision; truncated-normal(0.02) kernels;
    # G BN momentum 0.8 / epsilon 1e-5 (the seed writes "10**5", a typo for 1e-5); D BN momentum 0.8 (epsilon left
    # at Keras' 1e-3, as the seed sets none). The seed's baseline filter counts are not given, only that fig 4/5
    # "increase" G to (128, 64, 64)/(128, 128, 64) and "decrease" D to (32, 64, 64, 128): we take half of those for
    # G (64, 32, 32) and double for D (64, 128, 128, 256) as the baseline, a Dense projection to 256x4x4, k4 kernels.
    "scenario2-fig1": dict(
        g_projection="dense", g_base_filters=256, g_filters=(64, 32, 32), g_bn_momentum=0.8, g_bn_epsilon=1e-5,
        d_filters=(64, 128, 128, 256), d_head="dense", d_bn_momentum=0.8, d_bn_epsilon=1e-3,
        init="truncated_normal", init_stddev=0.02, batch_size=10, epochs=40, precision="mixed_float16"),
    "scenario2-fig2": dict(batch_size=64),
    # Fig 3 names no G BatchNorm setting: G keeps BN at Keras' defaults (momentum 0.99, epsilon 1e-3).
    "scenario2-fig3": dict(batch_size=64, g_bn_momentum=0.99, g_bn_epsilon=1e-3),
    "scenario2-fig4": dict(batch_size=64, epochs=200, g_filters=(128, 64, 64), d_filters=(32, 64, 64, 128)),
    "scenario2-fig5": dict(batch_size=64, epochs=200, g_filters=(128, 128, 64), d_filters=(32, 64, 64, 128)),
}

# A preset named "<family>-<variant>" applies its family's overrides first ("scenario2-fig2" = fig1 + batch 64).
_PARENTS = {
    "fast": "fast-v2",
    "fast-wide": "fast-wide-v1",
    "fast-wide-v1": "fast",
    "fast-v2": "fast-v1",
    "scenario1-lr1e-4": "scenario1",
    "scenario1-lr3e-4": "scenario1",
    "scenario2-fig2": "scenario2-fig1",
    "scenario2-fig3": "scenario2-fig1",
    "scenario2-fig4": "scenario2-fig1",
    "scenario2-fig5": "scenario2-fig1",
}


def preset(name: str) -> GANConfig:
    """The GANConfig of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    chain = [name]
    while chain[-1] in _PARENTS:
        chain.append(_PARENTS[chain[-1]])
    overrides: dict = {}
    for link in reversed(chain):
        overrides.update(PRESETS[link])
    return GANConfig(name=name, **overrides)


def is_preset(cfg: GANConfig, name: str) -> bool:
    """Whether cfg trains preset `name`'s recipe: equal to it apart from its name, its seed and eval_every (KID
    measured during training changes what a run records, not what it learns). Raises ConfigError for an unknown
    name."""
    return cfg.replace(name=name, seed=0, eval_every=0) == preset(name).replace(seed=0, eval_every=0)


def _parse_value(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "tuple[int, ...]":
            parts = [p for p in raw.replace("(", "").replace(")", "").replace("[", "").replace("]", "").split(",")]
            return tuple(int(p) for p in parts if p.strip())
        return raw
    except ValueError:
        expected = "comma-separated integers" if kind == "tuple[int, ...]" else kind
        raise ConfigError(f"{f.name}={raw!r} is not a valid {expected}") from None


def apply_overrides(cfg: GANConfig, overrides: list[str]) -> GANConfig:
    """Apply `key=value` strings (the CLI's `--set`) and re-validate."""
    by_name = {f.name: f for f in fields(cfg)}
    changes = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if key not in by_name:
            raise ConfigError(f"unknown config key {key!r} in --set {item!r}")
        changes[key] = _parse_value(by_name[key], raw.strip())
    return dataclasses.replace(cfg, **changes)


# Fields a resumed run may change: what the optimizers, the losses, the augmentations and the bookkeeping read at
# each step. Everything else defines the networks, their checkpointed state or the data order, and is fixed for the
# life of a run folder.
RESUMABLE_FIELDS = frozenset({
    "epochs", "g_lr", "d_lr", "beta_1", "beta_2", "label_smoothing", "loss", "ema_rampup", "diffaugment",
    "aug_flip", "aug_sharpness", "aug_color_jitter", "aug_blur", "jit_compile", "eval_every", "eval_samples",
    "tensorboard",
})


def check_resume_changes(saved: GANConfig, wanted: GANConfig) -> None:
    """Raise ConfigError naming the first field that differs between a run's config and the one asked for on
    resume, when that field cannot change mid-run (architecture, latent size, precision, seed, batch, ...)."""
    for f in fields(saved):
        if f.name != "name" and f.name not in RESUMABLE_FIELDS and getattr(saved, f.name) != getattr(wanted, f.name):
            raise ConfigError(f"{f.name} cannot change when resuming (the run was trained with "
                              f"{f.name}={getattr(saved, f.name)!r}); start a new run folder instead")
