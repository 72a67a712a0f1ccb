import numpy as np

from animegan_tf.config import preset
from animegan_tf.models import build_discriminator, build_generator
from conftest import tiny_config


def trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def test_dcgan_parameter_counts_equal_seed_001():
    # Seed 001's tables (PyTorch DCGAN with a 128-d latent): G 3,806,080 and D 2,765,696 trainable parameters.
    cfg = preset("dcgan").replace(latent_dim=128)
    assert trainable_count(build_generator(cfg)) == 3_806_080
    assert trainable_count(build_discriminator(cfg)) == 2_765_696


def test_shapes_names_and_float32_outputs_under_mixed_precision():
    for name in ("dcgan", "fast", "scenario1", "scenario2-fig5"):
        cfg = preset(name)
        for policy in ("float32", "mixed_float16", "mixed_bfloat16"):
            g = build_generator(cfg, dtype=policy)
            d = build_discriminator(cfg, dtype=policy)
            assert g.name == "generator" and d.name == "discriminator"
            images = g(np.zeros((2, cfg.latent_dim), np.float32), training=False)
            assert tuple(images.shape) == (2, 64, 64, 3)
            assert images.dtype == "float32"
            logits = d(images, training=False)
            assert tuple(logits.shape) == (2, 1) and logits.dtype == "float32"
            if policy != "float32":
                assert g.get_layer("project").compute_dtype != "float32"


def test_resize_upsampling_and_default_init_build():
    cfg = tiny_config(upsampling="resize", init="default")
    g = build_generator(cfg)
    assert any(layer.name.endswith("_resize") for layer in g.layers)
    assert tuple(g(np.zeros((1, 8), np.float32)).shape) == (1, 16, 16, 3)


def test_truncated_normal_init_respects_stddev():
    cfg = preset("dcgan")
    kernel = build_generator(cfg).get_layer("up1").kernel.numpy()
    assert abs(kernel.std() - 0.02 * 0.88) < 0.002  # truncated at 2 sigma: std = 0.88 * stddev
    assert np.abs(kernel).max() <= 0.04 + 1e-6


def test_batchnorm_momentum_and_epsilon_come_from_the_config():
    cfg = preset("scenario2-fig1")
    bn = build_generator(cfg).get_layer("project_bn")
    assert (bn.momentum, bn.epsilon) == (0.8, 1e-5)
    dbn = build_discriminator(cfg).get_layer("down1_bn")
    assert (dbn.momentum, dbn.epsilon) == (0.8, 1e-3)


def test_d_bn_input_false_drops_only_the_input_layers_batchnorm():
    cfg = preset("dcgan")
    with_bn = build_discriminator(cfg)
    without = build_discriminator(cfg.replace(d_bn_input=False))
    names = [layer.name for layer in without.layers]
    assert "down1_bn" not in names and {"down2_bn", "down3_bn", "down4_bn"} <= set(names)
    assert "down1_bn" in [layer.name for layer in with_bn.layers]
    assert trainable_count(with_bn) - trainable_count(without) == 2 * cfg.d_filters[0]  # gamma and beta
    assert not without.get_layer("down1").use_bias  # PyTorch's example: no bias in any D conv
    assert preset("fast").d_bn_input is False
