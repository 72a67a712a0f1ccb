"""Multiply-accumulates (MACs) per image of each system's generator and discriminator, and of one training step,
counted from the built Keras models' layer shapes (convolutions and dense layers; BatchNorm, activations and the
optimizer are left out, they are a few % here).

  python benchmarks/model_flops.py --systems fast fast+g_base_filters=384+g_filters=192,96,48+d_filters=24,48,96,192

One training step per real image, from `DCGAN.train_step`: G forward on the batch and its backward in the G step
(~3 G); D forward on the real and the fake batch with a backward for weights and activations (~2 x 3 D), then D
forward on the fakes again with a backward for activations only (~2 D) in the G step: ~3 G + 8 D. Lazy R1 adds a
D forward and a double backward every r1_every-th step (~0.3 D at every 16); that is not counted. The figures say
which systems cost the same arithmetic; what they cost in seconds is measured by training them (recipe_screen.py's
s/kimg), as convolutions of different widths do not run equally fast on a CPU.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from animegan_tf.config import ConfigError  # noqa: E402
from animegan_tf.models import build_discriminator, build_generator  # noqa: E402
from recipe_screen import parse_system  # noqa: E402  (this folder: the screen's system syntax)


def layer_macs(layer: keras.layers.Layer) -> int:
    """MACs of one layer for one image (0 for layers without a kernel)."""
    shape_in, shape_out = layer.input.shape, layer.output.shape  # a wrapper's, as the layer it wraps was not traced
    if isinstance(layer, keras.layers.SpectralNormalization):
        layer = layer.layer
    if isinstance(layer, keras.layers.Conv2DTranspose):  # every input pixel scatters a k x k x cout patch
        _, h, w, cin = shape_in
        return h * w * cin * layer.kernel_size[0] * layer.kernel_size[1] * layer.filters
    if isinstance(layer, keras.layers.Conv2D):  # every output pixel gathers a k x k x cin patch
        _, h, w, cout = shape_out
        return h * w * cout * layer.kernel_size[0] * layer.kernel_size[1] * shape_in[-1]
    if isinstance(layer, keras.layers.Dense):
        return shape_in[-1] * layer.units
    return 0


def model_macs(model: keras.Model) -> int:
    return sum(layer_macs(layer) for layer in model.layers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", nargs="+", required=True, help="PRESET or PRESET+key=value+... (as recipe_screen.py)")
    args = ap.parse_args()
    try:
        configs = {spec: parse_system(spec, seed=0) for spec in args.systems}
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = None
    print("| system | G MMACs/img | D MMACs/img | step MMACs/img (3 G + 8 D) | vs first |")
    print("|---|---:|---:|---:|---:|")
    for spec, cfg in configs.items():
        g = model_macs(build_generator(cfg, dtype="float32")) / 1e6
        d = model_macs(build_discriminator(cfg, dtype="float32")) / 1e6
        step = 3 * g + 8 * d
        base = base or step
        print(f"| `{spec}` | {g:.1f} | {d:.1f} | {step:.0f} | {step / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
