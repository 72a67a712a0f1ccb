"""Generator and discriminator, built from a GANConfig as named `keras.Sequential` models.

Shapes for the `dcgan` preset at 64x64:
  generator:     z (B, 100) -> (B, 4, 4, 512) -> 8x8x256 -> 16x16x128 -> 32x32x64 -> (B, 64, 64, 3) in [-1, 1]
  discriminator: (B, 64, 64, 3) -> 32x32x64 -> 16x16x128 -> 8x8x256 -> 4x4x512 -> (B, 1) logits

In a network with BatchNorm no convolution carries a bias (BN's beta replaces it; the layers without BN, the output
and logit layers, follow the PyTorch DCGAN example and have none either): that is what makes the parameter counts
equal seed 001's tables. Under mixed precision every layer computes in the
compute dtype but the generator's tanh and the discriminator's logits are float32 layers, so both outputs stay
float32 and losses are computed in float32.
"""

from __future__ import annotations


from .backend import keras
from .config import GANConfig

layers = keras.layers


def _kernel_init(cfg: GANConfig, seed: int):
    if cfg.init == "truncated_normal":
        return keras.initializers.TruncatedNormal(mean=0.0, stddev=cfg.init_stddev, seed=seed)
    return keras.initializers.GlorotUniform(seed=seed)


class _Seeds:
    """Distinct, reproducible initialiser seeds for successive layers."""

    def __init__(self, base: int):
        self.next_seed = base

    def __call__(self) -> int:
        self.next_seed += 1
        return self.next_seed


def build_generator(cfg: GANConfig, dtype: str | None = None) -> keras.Sequential:
    """z (B, latent_dim) -> images (B, S, S, channels) in [-1, 1], float32.

    Args:
        cfg: the run's config.
        dtype: a Keras dtype policy name ("float32", "mixed_float16", ...); None = the global policy.
    """
    seeds = _Seeds(cfg.seed * 1000)
    bn = cfg.g_batchnorm
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(cfg.latent_dim,), name="z"))

    # Project z to the base 4x4 map.
    if cfg.g_projection == "conv":
        model.add(layers.Reshape((1, 1, cfg.latent_dim), name="z_to_1x1", dtype=dtype))
        model.add(layers.Conv2DTranspose(cfg.g_base_filters, 4, strides=1, padding="valid", use_bias=not bn,
                                         kernel_initializer=_kernel_init(cfg, seeds()), name="project",
                                         dtype=dtype))
    else:
        model.add(layers.Dense(4 * 4 * cfg.g_base_filters, use_bias=not bn,
                               kernel_initializer=_kernel_init(cfg, seeds()), name="project", dtype=dtype))
        model.add(layers.Reshape((4, 4, cfg.g_base_filters), name="project_reshape", dtype=dtype))
    if bn:
        model.add(layers.BatchNormalization(momentum=cfg.g_bn_momentum, epsilon=cfg.g_bn_epsilon,
                                            name="project_bn", dtype=dtype))
    model.add(layers.ReLU(name="project_relu", dtype=dtype))

    # Double the resolution once per hidden stage, then once more into RGB.
    stages = list(cfg.g_filters) + [cfg.channels]
    for i, filters in enumerate(stages, start=1):
        is_output = i == len(stages)
        name = "to_rgb" if is_output else f"up{i}"
        use_bias = not bn  # with BN, no conv has a bias (PyTorch DCGAN), the RGB output included
        init = _kernel_init(cfg, seeds())
        if cfg.upsampling == "transpose":
            model.add(layers.Conv2DTranspose(filters, cfg.g_kernel_size, strides=2, padding="same",
                                             use_bias=use_bias, kernel_initializer=init, name=name, dtype=dtype))
        else:  # nearest-neighbour resize then a stride-1 conv: no checkerboard artefacts
            model.add(layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize", dtype=dtype))
            model.add(layers.Conv2D(filters, cfg.g_kernel_size, strides=1, padding="same", use_bias=use_bias,
                                    kernel_initializer=init, name=name, dtype=dtype))
        if is_output:
            model.add(layers.Activation("tanh", name="tanh", dtype="float32"))
        else:
            if bn:
                model.add(layers.BatchNormalization(momentum=cfg.g_bn_momentum, epsilon=cfg.g_bn_epsilon,
                                                    name=f"{name}_bn", dtype=dtype))
            model.add(layers.ReLU(name=f"{name}_relu", dtype=dtype))
    return model


def build_discriminator(cfg: GANConfig, dtype: str | None = None) -> keras.Sequential:
    """images (B, S, S, channels) in [-1, 1] -> logits (B, 1), float32 (use a from_logits loss).

    Args:
        cfg: the run's config.
        dtype: a Keras dtype policy name; None = the global policy.
    """
    seeds = _Seeds(cfg.seed * 1000 + 500)
    bn = cfg.d_batchnorm
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=(cfg.image_size, cfg.image_size, cfg.channels), name="image"))

    def add_conv(conv):  # spectral normalisation (Miyato et al. 2018) wraps the layer when asked for
        model.add(layers.SpectralNormalization(conv, name=f"{conv.name}_sn", dtype=dtype)
                  if cfg.d_spectral_norm else conv)

    for i, filters in enumerate(cfg.d_filters, start=1):
        add_conv(layers.Conv2D(filters, cfg.d_kernel_size, strides=2, padding="same", use_bias=not bn,
                               kernel_initializer=_kernel_init(cfg, seeds()), name=f"down{i}", dtype=dtype))
        if bn and (i > 1 or cfg.d_bn_input):
            model.add(layers.BatchNormalization(momentum=cfg.d_bn_momentum, epsilon=cfg.d_bn_epsilon,
                                                name=f"down{i}_bn", dtype=dtype))
        model.add(layers.LeakyReLU(negative_slope=cfg.leaky_slope, name=f"down{i}_lrelu", dtype=dtype))
        if cfg.d_dropout > 0:
            model.add(layers.Dropout(cfg.d_dropout, seed=seeds(), name=f"down{i}_dropout", dtype=dtype))
    if cfg.d_head == "conv":  # k4 valid over the final 4x4 map -> 1x1x1, as in the DCGAN paper
        add_conv(layers.Conv2D(1, 4, strides=1, padding="valid", use_bias=not bn,
                               kernel_initializer=_kernel_init(cfg, seeds()), name="logit_conv", dtype=dtype))
        model.add(layers.Flatten(name="flatten", dtype=dtype))
    else:
        model.add(layers.Flatten(name="flatten", dtype=dtype))
        model.add(layers.Dense(1, kernel_initializer=_kernel_init(cfg, seeds()), name="logit_dense", dtype=dtype))
    model.add(layers.Activation("linear", name="logits", dtype="float32"))
    return model
