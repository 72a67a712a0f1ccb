"""DCGAN as a keras.Model: compile with two optimizers, one readable `train_step`, Keras metric trackers.

One step = one discriminator update (on a real batch and a fake batch, run separately so BatchNorm sees pure
batches) followed by one non-saturating generator update against the updated discriminator. The fakes of the
discriminator step are reused for the generator step, as in PyTorch's DCGAN example, so G runs forward once.
The step has no side effects: sample grids, plots and checkpoints come from callbacks (callbacks.py).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .augment import diff_augment


def _bce_per_example(labels, logits):
    # (B, 1) float32 logits -> (B,) losses
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1)


class DCGAN(keras.Model):
    """A generator and a discriminator trained adversarially with `fit`.

    Args:
        generator: z (B, latent_dim) -> images (B, S, S, C) in [-1, 1].
        discriminator: images -> logits (B, 1).
        latent_dim: size of z.
        label_smoothing: one-sided label smoothing; real targets are 1 - label_smoothing.
        seed: seeds the stream of z drawn in `train_step` (part of the checkpointed state).
        diffaugment: DiffAugment policies applied to everything D sees, e.g. ("translation", "cutout").
    """

    def __init__(self, generator, discriminator, latent_dim, label_smoothing=0.0, seed=0, diffaugment=(),
                 **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.seed = seed
        self.diffaugment = tuple(diffaugment)
        # A tf.random.Generator made inside a strategy scope gives each replica its own stream.
        self.z_rng = tf.random.Generator.from_seed(seed)
        names = ("g_loss", "d_loss", "d_real_loss", "d_fake_loss", "d_real_mean", "d_fake_mean")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True  # both networks start from keras.Input, so there is nothing left to build

    def compile(self, d_optimizer, g_optimizer, loss_scale=False, **kwargs):
        """Args:
            d_optimizer, g_optimizer: Keras optimizers (Adam in every preset).
            loss_scale: wrap both in `LossScaleOptimizer` (needed for mixed_float16; `compile` alone would wrap
                only an `optimizer=` argument).
        """
        super().compile(**kwargs)
        if loss_scale:
            d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
            g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def build_optimizers(self):
        """Create the optimizers' slot variables now (before restoring a checkpoint into them)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _augment(self, images, seed):
        return diff_augment(images, self.diffaugment, seed) if self.diffaugment else images

    def train_step(self, real_images):
        if isinstance(real_images, tuple):  # (x,) from array-backed sources
            real_images = real_images[0]
        batch_size = tf.shape(real_images)[0]
        z = self.z_rng.normal((batch_size, self.latent_dim))
        real_targets = tf.fill((batch_size, 1), 1.0 - self.label_smoothing)
        fake_targets = tf.zeros((batch_size, 1))
        ones = tf.ones((batch_size, 1))
        if self.diffaugment:
            aug_seeds = tf.transpose(self.z_rng.make_seeds(3))  # (3, 2): real, fake for D, fake for G
        else:
            aug_seeds = [None, None, None]

        with tf.GradientTape() as g_tape:
            fake_images = self.generator(z, training=True)

            # Train the discriminator: real batch and fake batch through D separately, one update.
            with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                real_logits = self.discriminator(self._augment(real_images, aug_seeds[0]), training=True)
                fake_logits = self.discriminator(self._augment(tf.stop_gradient(fake_images), aug_seeds[1]),
                                                 training=True)
                # Average over the global batch: gradients are summed across replicas.
                d_real_loss = tf.nn.compute_average_loss(_bce_per_example(real_targets, real_logits))
                d_fake_loss = tf.nn.compute_average_loss(_bce_per_example(fake_targets, fake_logits))
                d_loss = d_real_loss + d_fake_loss
                scaled_d_loss = self.d_optimizer.scale_loss(d_loss)
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply(d_tape.gradient(scaled_d_loss, d_vars), d_vars)

            # Train the generator: non-saturating loss -log D(G(z)) against the updated discriminator.
            g_logits = self.discriminator(self._augment(fake_images, aug_seeds[2]), training=True)
            g_loss = tf.nn.compute_average_loss(_bce_per_example(ones, g_logits))
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(scaled_g_loss, g_vars), g_vars)

        # Track per-replica means (the losses above are divided by the number of replicas).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        values = {
            "g_loss": g_loss * replicas,
            "d_loss": d_loss * replicas,
            "d_real_loss": d_real_loss * replicas,
            "d_fake_loss": d_fake_loss * replicas,
            "d_real_mean": tf.reduce_mean(tf.sigmoid(real_logits)),
            "d_fake_mean": tf.reduce_mean(tf.sigmoid(fake_logits)),
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def generate(self, z):
        """Images in [-1, 1] from latents, BatchNorm in inference mode."""
        return self.generator(z, training=False)

    def get_config(self):
        return {"latent_dim": self.latent_dim, "label_smoothing": self.label_smoothing, "seed": self.seed,
                "diffaugment": list(self.diffaugment)}
