"""Data augmentations (in the tf.data map) and DiffAugment (inside train_step, on real and fake alike).

Pipeline augmentations are the ones seeds 000/001 tried — horizontal flip, sharpness, colour jitter, Gaussian
blur — each off by default, each drawn per image from a stateless seed that depends on (run seed, epoch, step), so
a resumed run augments exactly as the uninterrupted one would.

DiffAugment (Zhao et al., 2020, "Differentiable Augmentation for Data-Efficient GAN Training") applies the same
family of differentiable transforms — colour, translation, cutout — to every image the discriminator sees, real or
fake, so D cannot memorise a small dataset and G still gets gradients through the transforms.
"""

from __future__ import annotations

from ..backend import tf


DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")


def _uniform(seed, shape, low=0.0, high=1.0):
    return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=high)


def _sub_seed(seed, i):
    # Independent child seeds for each transform from one (2,) int seed.
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), i)


def _blur3x3(x, kernel):
    """Depthwise 3x3 filter with edge padding. x: (B, H, W, C) float32."""
    channels = tf.shape(x)[-1]
    k = tf.tile(tf.reshape(kernel, (3, 3, 1, 1)), [1, 1, channels, 1])
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(padded, k, strides=[1, 1, 1, 1], padding="VALID")


def adjust_sharpness(x, factor):
    """torchvision's adjust_sharpness: blend with a smoothed copy; factor 0 = smooth, 1 = same, 2 = sharper.

    x: (B, H, W, C) float32 in [0, 255]; factor: (B,) per image.
    """
    smooth_kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13.0
    smooth = _blur3x3(x, smooth_kernel)
    f = tf.reshape(factor, (-1, 1, 1, 1))
    return tf.clip_by_value(smooth + f * (x - smooth), 0.0, 255.0)


def gaussian_blur(x, sigma):
    """Separable Gaussian blur with one sigma for the batch. x: (B, H, W, C) float32."""
    radius = 3
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel_1d = tf.exp(-0.5 * tf.square(offsets / sigma))
    kernel_1d /= tf.reduce_sum(kernel_1d)
    channels = tf.shape(x)[-1]
    kh = tf.tile(tf.reshape(kernel_1d, (-1, 1, 1, 1)), [1, 1, channels, 1])
    kw = tf.tile(tf.reshape(kernel_1d, (1, -1, 1, 1)), [1, 1, channels, 1])
    padded = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    out = tf.nn.depthwise_conv2d(padded, kh, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, kw, [1, 1, 1, 1], "VALID")


def make_augment(cfg):
    """The pipeline augmentation of a config: `fn(batch_uint8, seed) -> batch_uint8`, or None when all are off."""
    if not (cfg.aug_flip or cfg.aug_sharpness or cfg.aug_color_jitter or cfg.aug_blur):
        return None

    def augment(batch, seed):
        x = tf.cast(batch, tf.float32)  # (B, H, W, C) in [0, 255]
        n = tf.shape(x)[0]
        if cfg.aug_flip:  # horizontal flip with p = 0.5 (seed 001's RandomHorizontalFlip)
            flip = _uniform(_sub_seed(seed, 1), (n, 1, 1, 1)) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[2]), x)
        if cfg.aug_sharpness:  # sharpness factor `aug_sharpness` with p = 0.5 (seed 001's RandomAdjustSharpness)
            apply = _uniform(_sub_seed(seed, 2), (n,)) < 0.5
            factor = tf.where(apply, cfg.aug_sharpness, 1.0)
            x = adjust_sharpness(x, factor)
        if cfg.aug_color_jitter:  # brightness, contrast, saturation each scaled by U(1 - s, 1 + s), per image
            s = cfg.aug_color_jitter
            b, c, sat = (tf.reshape(_uniform(_sub_seed(seed, 3 + i), (n,), 1 - s, 1 + s), (-1, 1, 1, 1))
                         for i in range(3))
            x = x * b
            mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
            x = (x - mean) * c + mean
            grey = tf.reduce_mean(x, axis=-1, keepdims=True)
            x = tf.clip_by_value((x - grey) * sat + grey, 0.0, 255.0)
        if cfg.aug_blur:  # Gaussian blur, sigma ~ U(0.1, aug_blur) per batch, applied to each image with p = 0.5
            sigma = _uniform(_sub_seed(seed, 6), (), 0.1, cfg.aug_blur)
            apply = _uniform(_sub_seed(seed, 7), (n, 1, 1, 1)) < 0.5
            x = tf.where(apply, gaussian_blur(x, sigma), x)
        return tf.cast(tf.round(x), tf.uint8)

    return augment


def diff_augment(x, policies, seed):
    """DiffAugment on a batch in [-1, 1]; differentiable w.r.t. x. policies: subset of DIFFAUGMENT_POLICIES.

    x: (B, H, W, C) float; seed: (2,) int stateless seed (the same policy is used for real and fake batches, each
    with its own draw).
    """
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    n, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    if "color" in policies:
        x = x + (_uniform(_sub_seed(seed, 11), (n, 1, 1, 1)) - 0.5)  # brightness
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        x = (x - mean) * _uniform(_sub_seed(seed, 12), (n, 1, 1, 1), 0.0, 2.0) + mean  # saturation
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * _uniform(_sub_seed(seed, 13), (n, 1, 1, 1), 0.5, 1.5) + mean  # contrast
    if "translation" in policies:  # shift by up to 1/8 of the size, zero padding
        pad = tf.cast(tf.cast(h, tf.float32) * 0.125 + 0.5, tf.int32)
        shifts = tf.random.stateless_uniform((2, n), seed=_sub_seed(seed, 14), minval=-pad, maxval=pad + 1,
                                             dtype=tf.int32)
        padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        rows = tf.range(h)[None, :] + pad + shifts[0][:, None]  # (B, H)
        cols = tf.range(w)[None, :] + pad + shifts[1][:, None]  # (B, W)
        x = tf.gather(padded, rows, axis=1, batch_dims=1)
        x = tf.gather(x, cols, axis=2, batch_dims=1)
    if "cutout" in policies:  # zero a square of half the size at a random centre
        size_h, size_w = h // 2, w // 2
        cy = tf.random.stateless_uniform((n, 1, 1), seed=_sub_seed(seed, 15), maxval=h, dtype=tf.int32)
        cx = tf.random.stateless_uniform((n, 1, 1), seed=_sub_seed(seed, 16), maxval=w, dtype=tf.int32)
        yy = tf.range(h)[None, :, None]
        xx = tf.range(w)[None, None, :]
        inside = (tf.abs(yy - cy) <= size_h // 2) & (tf.abs(xx - cx) <= size_w // 2)  # (B, H, W)
        x = x * tf.cast(~inside, tf.float32)[..., None]
    return tf.cast(x, dtype)
