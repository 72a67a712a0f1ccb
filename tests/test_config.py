import json

import pytest

from animegan_tf.config import PRESETS, ConfigError, GANConfig, apply_overrides, is_preset, preset


def test_every_preset_builds_and_round_trips_through_json():
    for name in PRESETS:
        cfg = preset(name)
        assert cfg.name == name
        assert GANConfig.from_json(cfg.to_json()) == cfg


def test_presets_follow_the_seeds():
    fig4 = preset("scenario2-fig4")
    assert (fig4.batch_size, fig4.epochs, fig4.g_filters, fig4.d_filters) == (64, 200, (128, 64, 64), (32, 64, 64, 128))
    assert (fig4.g_bn_momentum, fig4.g_bn_epsilon, fig4.d_bn_momentum) == (0.8, 1e-5, 0.8)
    assert fig4.precision == "mixed_float16" and fig4.init == "truncated_normal" and fig4.init_stddev == 0.02
    assert preset("scenario2-fig1").batch_size == 10 and preset("scenario2-fig1").epochs == 40
    s1 = preset("scenario1-lr3e-4")
    assert (s1.g_lr, s1.d_lr, s1.batch_size, s1.epochs, s1.g_filters) == (3e-4, 3e-4, 256, 100, (32, 64, 128))
    assert s1.data_pipeline == "array_slices"
    dcgan = preset("dcgan")
    # PyTorch's BatchNorm default (momentum 0.1, eps 1e-5) in Keras' convention.
    assert (dcgan.g_bn_momentum, dcgan.g_bn_epsilon, dcgan.batch_size, dcgan.latent_dim) == (0.9, 1e-5, 128, 100)


def test_each_cpu_recipe_keeps_its_meaning():
    """A retired `fast` keeps its name (fast-v1, fast-v2), so committed figures that name it still mean it."""
    v1, v2, fast = preset("fast-v1"), preset("fast-v2"), preset("fast")
    assert (v1.g_filters, v1.d_filters, v1.batch_size, v1.d_bn_input) == ((128, 64, 32), (32, 64, 128, 256), 64, False)
    assert (v1.g_lr, v1.beta_1, v1.beta_2, v1.r1_gamma) == (2e-4, 0.5, 0.999, 0.0)
    assert (v2.g_lr, v2.d_lr, v2.beta_1, v2.beta_2, v2.r1_gamma, v2.r1_every) == (1e-3, 1e-3, 0.5, 0.99, 0.1, 16)
    assert v2.replace(name="v1", g_lr=2e-4, d_lr=2e-4, beta_2=0.999, r1_gamma=0.0) == v1.replace(name="v1")
    # Today's recipe: fast-v2 with Adam's beta_1 at 0 and nothing else changed.
    assert fast.beta_1 == 0.0 and fast.replace(name="x", beta_1=0.5) == v2.replace(name="x")


def test_fast_wide_is_fast_at_the_dcgan_widths_with_x_flips():
    wide, v1, fast, dcgan = preset("fast-wide"), preset("fast-wide-v1"), preset("fast"), preset("dcgan")
    widths = ("g_base_filters", "g_filters", "d_filters")
    assert all(getattr(v1, k) == getattr(dcgan, k) for k in widths)
    assert v1.replace(name="x", **{k: getattr(fast, k) for k in widths}) == fast.replace(name="x")
    # Today's recipe per image: the retired one with x-flips of the real faces and nothing else changed.
    assert wide.aug_flip and not v1.aug_flip and wide.replace(name="x", aug_flip=False) == v1.replace(name="x")


@pytest.mark.parametrize("override, field", [
    (dict(g_lr=0.0), "g_lr"),
    (dict(d_lr=-1e-4), "d_lr"),
    (dict(g_bn_momentum=1.0), "g_bn_momentum"),
    (dict(d_bn_momentum=-0.1), "d_bn_momentum"),
    (dict(g_bn_epsilon=0.0), "g_bn_epsilon"),
    (dict(d_bn_epsilon=1.0), "d_bn_epsilon"),
    (dict(batch_size=0), "batch_size"),
    (dict(image_size=48), "image_size"),
    (dict(image_size=8), "image_size"),
    (dict(precision="float64"), "precision"),
    (dict(upsampling="bilinear"), "upsampling"),
    (dict(batch_size=12.5), "batch_size"),
    (dict(g_filters=(256, 128)), "g_filters"),
])
def test_invalid_values_name_the_field(override, field):
    with pytest.raises(ConfigError, match=field):
        GANConfig(**override)


def test_unknown_key_is_rejected():
    data = GANConfig().to_dict()
    data["learning_rate"] = 1e-3
    with pytest.raises(ConfigError, match="learning_rate"):
        GANConfig.from_json(json.dumps(data))


def test_overrides_parse_types_and_validate():
    cfg = apply_overrides(preset("dcgan"), ["g_lr=1e-4", "g_filters=128,64,32", "g_batchnorm=false",
                                            "upsampling=resize", "batch_size=64"])
    assert (cfg.g_lr, cfg.g_filters, cfg.g_batchnorm, cfg.upsampling, cfg.batch_size) == (
        1e-4, (128, 64, 32), False, "resize", 64)
    with pytest.raises(ConfigError, match="nope"):
        apply_overrides(cfg, ["nope=1"])
    with pytest.raises(ConfigError, match="batch_size"):
        apply_overrides(cfg, ["batch_size=lots"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(cfg, ["g_lr"])
    with pytest.raises(ConfigError, match="g_bn_momentum"):
        apply_overrides(cfg, ["g_bn_momentum=1.5"])


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("stylegan")
    with pytest.raises(ConfigError, match="unknown preset"):
        is_preset(preset("fast"), "stylegan")


def test_a_config_is_its_preset_whatever_its_name_seed_and_kid_schedule():
    wide = preset("fast-wide")
    run = wide.replace(name="fast-wide-v1+aug_flip=true", seed=3, eval_every=20)  # same config, seed 3
    assert is_preset(run, "fast-wide") and is_preset(preset("dcgan"), "dcgan")
    assert not is_preset(run, "fast-wide-v1")  # its parent: the flips differ
    assert not is_preset(run.replace(g_lr=2e-3), "fast-wide") and not is_preset(run.replace(epochs=61), "fast-wide")
