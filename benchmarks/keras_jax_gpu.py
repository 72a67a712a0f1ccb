"""The lab's Keras models on a GPU through Keras' JAX backend: img/s in float32, mixed_float16 and mixed_bfloat16.

Why this exists: the GPU machines lent to this project have JAX and PyTorch but no TensorFlow, and TensorFlow's
wheel is far larger than what can be carried to them, so `train_throughput.py` (TensorFlow) cannot run there. The
generator and discriminator are plain Keras (`animegan_tf.models`), so the same networks, built by the same code from
the `dcgan` preset, can be trained under Keras' JAX backend. The step below is the lab's `train_step` rewritten with
Keras' stateless API and `jax.jit` (XLA, as the lab uses on GPUs): one D update on a real and a fake batch, then one
non-saturating G update against the updated D on the *same* fakes (G runs forward once: its backward pass is the
VJP of the forward pass), Adam 2e-4 / beta_1 0.5, dynamic loss scaling through Keras' `LossScaleOptimizer` under
mixed_float16. Real batches are uint8 on the device, scaled to [-1, 1] inside the step.

What it measures is the networks and the update on the GPU with XLA, not TensorFlow's runtime: read it as the
expected figure for the lab with XLA on, not as the lab's own.

  KERAS_BACKEND=jax python benchmarks/keras_jax_gpu.py --batch 128 256 512
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402

from animegan_tf.config import preset  # noqa: E402
from animegan_tf.models import build_discriminator, build_generator  # noqa: E402


def bce_with_logits(logits, target):
    logits = logits.astype(jnp.float32)
    return jnp.mean(jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits))))


def _scale_index(opt):
    if not isinstance(opt, keras.optimizers.LossScaleOptimizer):
        return None
    return next(i for i, v in enumerate(opt.variables) if v is opt.dynamic_scale)


class Trainer:
    def __init__(self, policy, batch, seed=0):
        cfg = preset("dcgan").replace(batch_size=batch)
        keras.utils.set_random_seed(seed)
        self.g, self.d = build_generator(cfg, dtype=policy), build_discriminator(cfg, dtype=policy)
        opts = [keras.optimizers.Adam(2e-4, beta_1=0.5) for _ in range(2)]
        if policy == "mixed_float16":
            opts = [keras.optimizers.LossScaleOptimizer(o) for o in opts]
        self.g_opt, self.d_opt = opts
        self.g_opt.build(self.g.trainable_variables)
        self.d_opt.build(self.d.trainable_variables)
        self.batch, self.latent_dim = batch, cfg.latent_dim
        values = lambda vs: [v.value for v in vs]  # noqa: E731
        self.state = (values(self.g.trainable_variables), values(self.g.non_trainable_variables),
                      values(self.d.trainable_variables), values(self.d.non_trainable_variables),
                      values(self.g_opt.variables), values(self.d_opt.variables))
        key = jax.random.PRNGKey(seed)
        self.key, pool_key = jax.random.split(key)
        self.pool = jax.random.randint(pool_key, (8, batch, 64, 64, 3), 0, 256, dtype=jnp.int32).astype(jnp.uint8)
        self.cursor = 0
        self.step = jax.jit(self._step, donate_argnums=(0,))

    def _step(self, state, real_u8, key):
        g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov = state
        g_si, d_si = _scale_index(self.g_opt), _scale_index(self.d_opt)
        g_scale = g_ov[g_si] if g_si is not None else 1.0
        d_scale = d_ov[d_si] if d_si is not None else 1.0
        real = real_u8.astype(jnp.float32) / 127.5 - 1.0
        z = jax.random.normal(key, (self.batch, self.latent_dim))

        def g_forward(tv):
            return self.g.stateless_call(tv, g_ntv, z, training=True)

        fake, g_vjp, g_ntv = jax.vjp(g_forward, g_tv, has_aux=True)

        def d_loss_fn(tv, ntv):
            real_logits, ntv = self.d.stateless_call(tv, ntv, real, training=True)
            fake_logits, ntv = self.d.stateless_call(tv, ntv, jax.lax.stop_gradient(fake), training=True)
            loss = bce_with_logits(real_logits, 1.0) + bce_with_logits(fake_logits, 0.0)
            return loss * d_scale, (loss, ntv)

        d_grads, (d_loss, d_ntv) = jax.grad(d_loss_fn, has_aux=True)(d_tv, d_ntv)
        d_tv, d_ov = self.d_opt.stateless_apply(d_ov, d_grads, d_tv)

        def g_loss_fn(images, ntv):
            logits, ntv = self.d.stateless_call(d_tv, ntv, images, training=True)
            loss = bce_with_logits(logits, 1.0)
            return loss * g_scale, (loss, ntv)

        fake_grad, (g_loss, d_ntv) = jax.grad(g_loss_fn, has_aux=True)(fake, d_ntv)
        (g_grads,) = g_vjp(fake_grad)
        g_tv, g_ov = self.g_opt.stateless_apply(g_ov, g_grads, g_tv)
        return (g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov), (d_loss, g_loss)

    def run(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            self.key, sub = jax.random.split(self.key)
            self.state, losses = self.step(self.state, self.pool[self.cursor], sub)
            self.cursor = (self.cursor + 1) % len(self.pool)
        jax.block_until_ready(losses)
        return time.perf_counter() - start, [float(x) for x in losses]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, nargs="+", default=[128])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--policies", nargs="+", default=["float32", "mixed_float16", "mixed_bfloat16"])
    args = ap.parse_args()

    results = []
    for batch in args.batch:
        trainers = {p: Trainer(p, batch) for p in args.policies}
        for t in trainers.values():
            t.run(max(3, args.steps // 4))  # compile + warm-up
        rates, losses = {p: [] for p in trainers}, {}
        for _ in range(args.repeats):
            for p, t in trainers.items():
                seconds, losses[p] = t.run(args.steps)
                rates[p].append(args.steps * batch / seconds)
        base = statistics.median(rates[args.policies[0]])
        for p, r in rates.items():
            med = statistics.median(r)
            results.append({"batch": batch, "policy": p, "median_img_s": round(med, 1),
                            f"ratio_vs_{args.policies[0]}": round(med / base, 3), "runs": [round(x, 1) for x in r],
                            "last_d_g_loss": [round(x, 4) for x in losses[p]]})
            print(f"batch {batch:4d}  {p:15s} median {med:10.1f} img/s  ratio {med / base:.3f}  "
                  f"runs {[round(x) for x in r]}  losses d/g {[round(x, 3) for x in losses[p]]}", flush=True)
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "device": str(jax.devices()[0].device_kind),
                      "jax": jax.__version__, "keras": keras.__version__, "steps": args.steps,
                      "repeats": args.repeats, "results": results}))


if __name__ == "__main__":
    main()
