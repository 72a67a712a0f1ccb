"""DCGAN as a keras.Model: compile with two optimizers, one readable `train_step`, Keras metric trackers.

One step = one discriminator update (on a real batch and a fake batch, run separately so BatchNorm sees pure
batches) followed by one generator update against the updated discriminator (non-saturating or hinge loss). The
fakes of the discriminator step are reused for the generator step, as in PyTorch's DCGAN example, so G runs forward
once. With an averaged generator (`ema_generator`), the step ends by moving every one of its weights toward the
trained generator's: `ema = d * ema + (1 - d) * g`, BatchNorm moving statistics included, inside the compiled step.
The step has no other side effects: sample grids, plots and checkpoints come from callbacks (callbacks.py).
"""

from __future__ import annotations

import math


from .backend import keras, tf
from .data.augment import diff_augment


def _bce_per_example(labels, logits):
    # (B, 1) float32 logits -> (B,) losses
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1)


def _hinge_per_example(sign, logits):
    # sign +1 for real, -1 for fake: max(0, 1 - sign * D(x))
    return tf.reduce_mean(tf.nn.relu(1.0 - sign * logits), axis=-1)


class DCGAN(keras.Model):
    """A generator and a discriminator trained adversarially with `fit`.

    Args:
        generator: z (B, latent_dim) -> images (B, S, S, C) in [-1, 1].
        discriminator: images -> logits (B, 1).
        latent_dim: size of z.
        label_smoothing: one-sided label smoothing; real targets are 1 - label_smoothing.
        seed: seeds the stream of z drawn in `train_step` (part of the checkpointed state).
        diffaugment: DiffAugment policies applied to everything D sees, e.g. ("translation", "cutout").
        loss: "nonsaturating" (BCE on logits) or "hinge".
        ema_generator: a second generator of the same architecture that keeps the running average of the
            trained one (None = no averaging); it is what `generate` and the sample grids use.
        ema_decay: per-step decay d of the average.
        ema_rampup: when > 0, the average's half-life (in images) is capped at ema_rampup * images seen, so the
            first, noisy steps are forgotten quickly (StyleGAN2-ADA's ramp).
    """

    def __init__(self, generator, discriminator, latent_dim, label_smoothing=0.0, seed=0, diffaugment=(),
                 loss="nonsaturating", ema_generator=None, ema_decay=0.0, ema_rampup=0.0, r1_gamma=0.0, r1_every=16,
                 **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.seed = seed
        self.diffaugment = tuple(diffaugment)
        self.loss = loss
        self.ema_generator = ema_generator
        self.ema_decay = float(ema_decay)
        self.ema_rampup = float(ema_rampup)
        self.r1_gamma = float(r1_gamma)
        self.r1_every = int(r1_every)
        if ema_generator is not None:
            if not 0.0 < self.ema_decay < 1.0:
                raise ValueError(f"ema_decay must be in (0, 1) with an ema_generator, got {ema_decay!r}")
            for shadow, var in zip(ema_generator.weights, generator.weights, strict=True):
                shadow.assign(var)  # the average starts at the initial weights
        # A tf.random.Generator made inside a strategy scope gives each replica its own stream.
        self.z_rng = tf.random.Generator.from_seed(seed)
        names = ("g_loss", "d_loss", "d_real_loss", "d_fake_loss", "d_real_mean", "d_fake_mean")
        names += ("d_r1",) if self.r1_gamma else ()  # the penalty as added to D's loss (0 on the other steps)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.diverged = False  # set by callbacks.DivergenceGuard when losses and weights go non-finite
        self.built = True  # both networks start from keras.Input, so there is nothing left to build

    def compile(self, d_optimizer, g_optimizer, loss_scale=False, **kwargs):
        """Args:
            d_optimizer, g_optimizer: Keras optimizers (Adam in every preset).
            loss_scale: wrap both in `LossScaleOptimizer` (needed for mixed_float16; `compile` alone would wrap
                only an `optimizer=` argument).
        """
        # optimizer=None: Keras' default would be an RMSprop that nothing uses, yet fit() builds it over every
        # weight and Keras' TensorBoard logs its learning rate (1e-3) as the model's.
        super().compile(optimizer=None, **kwargs)
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
                real_seen = self._augment(real_images, aug_seeds[0])
                real_logits = self.discriminator(real_seen, training=True)
                fake_logits = self.discriminator(self._augment(tf.stop_gradient(fake_images), aug_seeds[1]),
                                                 training=True)
                # Average over the global batch: gradients are summed across replicas.
                if self.loss == "hinge":
                    d_real_loss = tf.nn.compute_average_loss(_hinge_per_example(1.0, real_logits))
                    d_fake_loss = tf.nn.compute_average_loss(_hinge_per_example(-1.0, fake_logits))
                else:
                    d_real_loss = tf.nn.compute_average_loss(_bce_per_example(real_targets, real_logits))
                    d_fake_loss = tf.nn.compute_average_loss(_bce_per_example(fake_targets, fake_logits))
                d_loss = d_real_loss + d_fake_loss
                d_r1 = self._lazy_r1(real_seen) if self.r1_gamma else None
                scaled_d_loss = self.d_optimizer.scale_loss(d_loss if d_r1 is None else d_loss + d_r1)
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply(d_tape.gradient(scaled_d_loss, d_vars), d_vars)

            # Train the generator against the updated discriminator: -log D(G(z)) (non-saturating) or -D(G(z)).
            g_logits = self.discriminator(self._augment(fake_images, aug_seeds[2]), training=True)
            if self.loss == "hinge":
                g_loss = tf.nn.compute_average_loss(-tf.reduce_mean(g_logits, axis=-1))
            else:
                g_loss = tf.nn.compute_average_loss(_bce_per_example(ones, g_logits))
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(scaled_g_loss, g_vars), g_vars)
        if self.ema_generator is not None:
            self._update_ema(batch_size)

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
        if d_r1 is not None:
            values["d_r1"] = d_r1 * replicas
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def r1_penalty(self, real_seen):
        """r1_gamma / 2 * ||grad_x D(x)||^2 per real image (float32), from a second pass of D over the real batch
        (its gradient with respect to the images is taken with `tf.gradients`: this runs inside the compiled step,
        where a tape opened in a `tf.cond` branch sees nothing recorded outside it)."""
        logits = tf.cast(self.discriminator(real_seen, training=True), tf.float32)
        grads = tf.gradients(tf.reduce_sum(logits), real_seen)[0]
        return self.r1_gamma / 2.0 * tf.reduce_sum(tf.square(tf.cast(grads, tf.float32)), axis=[1, 2, 3])

    def _lazy_r1(self, real_seen):
        """The R1 term of this step: r1_every times the penalty's batch mean on every r1_every-th D step (the
        optimizer's iteration count before this step's update), 0 on the others (nothing is computed for them)."""
        due = tf.equal(self.d_optimizer.iterations % self.r1_every, 0)
        return tf.cond(due, lambda: float(self.r1_every) * tf.nn.compute_average_loss(self.r1_penalty(real_seen)),
                       lambda: tf.constant(0.0))

    def ema_beta(self, global_batch):
        """The decay of this step's average update (a scalar tensor); `iterations` counts finished G steps."""
        beta = tf.constant(self.ema_decay, tf.float32)
        if self.ema_rampup > 0:
            halflife = tf.cast(global_batch, tf.float32) * math.log(0.5) / math.log(self.ema_decay)  # images
            seen = tf.cast(self.g_optimizer.iterations, tf.float32) * tf.cast(global_batch, tf.float32)
            halflife = tf.minimum(halflife, self.ema_rampup * seen)
            beta = tf.pow(0.5, tf.cast(global_batch, tf.float32) / tf.maximum(halflife, 1e-8))
        return beta

    def _update_ema(self, batch_size):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        global_batch = batch_size * replicas

        def update(*_):
            beta = self.ema_beta(global_batch)
            for shadow, var in zip(self.ema_generator.weights, self.generator.weights):
                value = tf.cast(var.value, tf.float32)
                shadow.assign(tf.cast(value + beta * (tf.cast(shadow.value, tf.float32) - value), shadow.dtype))

        context = tf.distribute.get_replica_context()
        if replicas > 1 and context is not None:
            context.merge_call(update)  # every replica holds the same weights: update the mirrored copies once
        else:
            update()

    @property
    def sampling_generator(self):
        """The generator that samples are drawn from: the averaged one when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def generate(self, z, raw=False):
        """Images in [-1, 1] from latents, BatchNorm in inference mode; the averaged generator unless `raw`."""
        return (self.generator if raw else self.sampling_generator)(z, training=False)

    def get_config(self):
        return {"latent_dim": self.latent_dim, "label_smoothing": self.label_smoothing, "seed": self.seed,
                "diffaugment": list(self.diffaugment), "loss": self.loss, "ema_decay": self.ema_decay,
                "ema_rampup": self.ema_rampup, "r1_gamma": self.r1_gamma, "r1_every": self.r1_every}
