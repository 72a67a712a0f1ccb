"""Budgets in images shown to D (kimg): a run stops at exactly its budget, resumed or not, and records it."""

import numpy as np
import pytest

from animegan_tf import lab, runs
from animegan_tf.cli import main as cli_main
from animegan_tf.sampling import load_generator
from animegan_tf.training import target_steps, train
from conftest import blob_images, tiny_config


def _weights(run_dir):
    with np.load(run_dir / runs.CHECKPOINT) as ckpt:
        return {k: ckpt[k] for k in ckpt.files if k != "meta"}


def test_target_steps_round_up_to_whole_batches():
    assert target_steps(None, 8) is None
    assert target_steps(0.08, 8) == 10  # 80 images = 10 batches of 8
    assert target_steps(0.081, 8) == 11  # 81 images need an 11th batch
    assert target_steps(0.001, 64) == 1


def test_run_stops_at_exactly_its_kimg_mid_epoch(tmp_path):
    # 16 images, batch 4: 4 steps an epoch; 0.036 kimg = 9 steps = 2 epochs and 1 step
    cfg = tiny_config(batch_size=4, epochs=1)  # epochs is not a cap when a kimg budget is given
    train(cfg, blob_images(16), tmp_path / "r", verbose=0, kimg=0.036)
    meta = runs.checkpoint_meta(tmp_path / "r")
    assert (meta["epoch"], meta["step_in_epoch"]) == (2, 1)
    assert meta["steps"] == 9 and meta["images_shown"] == 36
    history = runs.load_history(tmp_path / "r")
    assert history["kimg"] == [0.016, 0.032, 0.036]  # the run's total after each epoch, the last one partial
    assert all(v > 0 for v in history["img_per_s"]) and all(v > 0 for v in history["s_per_kimg"])
    assert np.allclose(np.array(history["img_per_s"]) * np.array(history["s_per_kimg"]), 1000)


RESUME_CASES = {
    "default": {},
    "mixed_float16": dict(precision="mixed_float16"),  # the loss scale's state resumes too
    "array_slices": dict(data_pipeline="array_slices", d_head="dense", d_batchnorm=False, g_batchnorm=False),
    "augmented": dict(aug_flip=True, aug_color_jitter=0.2, diffaugment="color,translation,cutout"),
    "mirrored": dict(strategy="mirrored"),
    "ema": dict(ema_decay=0.99, ema_rampup=0.05),
    "r1": dict(r1_gamma=1.0, r1_every=2),
    "dropout": dict(d_dropout=0.2),
}


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resumed_budget_equals_one_uninterrupted_run(tmp_path, case):
    # stopped mid-epoch by its kimg budget, resumed to a larger one: every saved array equal to one straight run
    cfg = tiny_config(batch_size=4, **RESUME_CASES[case])
    images = blob_images(16)
    train(cfg, images, tmp_path / "whole", verbose=0, kimg=0.044)  # 11 steps
    train(cfg, images, tmp_path / "parts", verbose=0, kimg=0.020)  # 5 steps: epoch 1 and one step
    assert runs.checkpoint_meta(tmp_path / "parts")["steps"] == 5
    train(cfg, images, tmp_path / "parts", verbose=0, kimg=0.044, resume=True)
    whole, parts = runs.checkpoint_meta(tmp_path / "whole"), runs.checkpoint_meta(tmp_path / "parts")
    assert whole["steps"] == parts["steps"] == 11 and parts["images_shown"] == 44
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "parts")
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    # a finished budget trains no more
    train(cfg, images, tmp_path / "parts", verbose=0, kimg=0.044, resume=True)
    assert runs.checkpoint_meta(tmp_path / "parts")["steps"] == 11


def test_lab_run_reuses_a_run_that_reached_its_kimg(tmp_path, capsys):
    cfg = tiny_config(batch_size=4)
    images = blob_images(16)
    lab.run(cfg, "synthetic:16", tmp_path / "r", images=images, kimg=0.012)
    assert runs.checkpoint_meta(tmp_path / "r")["images_shown"] == 12
    out = capsys.readouterr().out
    assert "r: 0.012 of 0.012 kimg (0 epochs and 3 steps)" in out
    lab.run(cfg, "synthetic:16", tmp_path / "r", images=images, kimg=0.012)
    assert "reusing" in capsys.readouterr().out
    lab.run(cfg, "synthetic:16", tmp_path / "r", images=images, kimg=0.024)  # a larger budget continues it
    assert runs.checkpoint_meta(tmp_path / "r")["images_shown"] == 24


def test_cli_kimg_and_bad_values(tmp_path, capsys):
    assert cli_main(["train", "--data", "synthetic:32", "--out", str(tmp_path / "r"), "--kimg", "0", "--quiet"]) == 2
    assert "--kimg must be a positive number" in capsys.readouterr().err
    assert cli_main(["train", "--data", "synthetic:32", "--out", str(tmp_path / "r"), "--kimg", "1",
                     "--epochs", "2"]) == 2
    assert "not both" in capsys.readouterr().err


def test_history_has_the_logged_columns_only(tmp_path):
    train(tiny_config(batch_size=4, epochs=2), blob_images(16), tmp_path / "r", verbose=0)
    lines = (tmp_path / "r" / "history.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert {"epoch", "g_loss", "d_loss", "kimg", "img_per_s"} <= set(header)
    assert not [name for name in header if name.startswith("val_")]  # Keras' CSVLogger adds all-"NA" val_ twins
    assert len(lines) == 3 and not [line for line in lines[1:] if "NA" in line.split(",")]


def test_resuming_a_run_whose_history_predates_the_kimg_columns_keeps_every_row(tmp_path):
    cfg = tiny_config(batch_size=4, epochs=1)
    images = blob_images(16)
    train(cfg, images, tmp_path / "r", verbose=0)
    path = tmp_path / "r" / "history.csv"
    # the history.csv an older lab version wrote: no kimg / img_per_s / s_per_kimg columns
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name not in ("kimg", "img_per_s", "s_per_kimg")]
    path.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n")
    train(cfg.replace(epochs=3), images, tmp_path / "r", verbose=0, resume=True)
    history = runs.load_history(tmp_path / "r")
    assert history["epoch"] == [0, 1, 2]  # no row lost to a header mismatch
    assert "kimg" not in history  # the file's columns decide


def test_the_best_state_is_the_lowest_measured_kid_and_sample_and_evaluate_can_pick_it(tmp_path, capsys):
    run = tmp_path / "r"
    cfg = tiny_config(epochs=2, eval_every=1, eval_samples=8, batch_size=4)
    train(cfg, blob_images(16), run, verbose=0, data_source="synthetic:64")
    train(cfg.replace(epochs=4), blob_images(16), run, verbose=0, resume=True, data_source="synthetic:64")
    rows = runs.load_metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4] and [r["kimg"] for r in rows] == [0.016, 0.032, 0.048, 0.064]
    best_epoch = min(rows, key=lambda r: r["kid"])["epoch"]  # across the resume
    assert runs.read_meta(run / runs.BEST_CHECKPOINT)["epoch"] == best_epoch
    with np.load(run / runs.BEST_CHECKPOINT) as best:
        saved = [best[k] for k in runs.variable_keys("generator", load_generator(run, ema=False).weights)]
    loaded = load_generator(run, ema=False, state="best")
    for value, weight in zip(saved, loaded.weights):
        np.testing.assert_array_equal(value, weight.numpy())
    assert cli_main(["sample", "--run", str(run), "--n", "4", "--grid", str(tmp_path / "g.png"), "--best"]) == 0
    assert cli_main(["evaluate", "--run", str(run), "--n", "8", "--ref-n", "16", "--best"]) == 0
    assert "best state" in capsys.readouterr().out
    assert runs.load_metrics(run)[-1]["state"] == "best" and runs.load_metrics(run)[-1]["epoch"] == best_epoch
    plain = tmp_path / "plain"
    train(tiny_config(epochs=1, batch_size=4), blob_images(16), plain, verbose=0)
    assert cli_main(["sample", "--run", str(plain), "--n", "4", "--grid", str(tmp_path / "h.png"), "--best"]) == 2
    assert "eval_every" in capsys.readouterr().err


def test_a_budget_in_images_ending_on_an_epoch_boundary_measures_that_epoch_and_a_cut_one_waits(tmp_path):
    cfg = tiny_config(epochs=9, eval_every=1, eval_samples=8, batch_size=4)  # 16 images: 4 steps an epoch
    train(cfg, blob_images(16), tmp_path / "r", verbose=0, kimg=0.024)  # 6 steps: stops halfway through epoch 2
    assert [r["epoch"] for r in runs.load_metrics(tmp_path / "r")] == [1]
    train(cfg, blob_images(16), tmp_path / "r", verbose=0, kimg=0.032, resume=True)  # ends on epoch 2's last step
    rows = runs.load_metrics(tmp_path / "r")
    assert [(r["epoch"], r["kimg"]) for r in rows] == [(1, 0.016), (2, 0.032)]
    assert runs.checkpoint_meta(tmp_path / "r")["epoch"] == 2


def test_history_carries_the_kid_curve_measured_during_training(tmp_path):
    run = tmp_path / "r"
    # 48 samples: each measurement (Inception features) outlasts a tiny epoch several times over
    cfg = tiny_config(epochs=2, eval_every=2, eval_samples=48, batch_size=4)
    train(cfg, blob_images(16), run, verbose=0)
    train(cfg.replace(epochs=4), blob_images(16), run, verbose=0, resume=True)  # the column survives a resume
    kid = runs.load_history(run)["kid"]
    measured = {r["epoch"]: r["kid"] for r in runs.load_metrics(run)}
    assert sorted(measured) == [2, 4]
    assert [np.isnan(k) for k in kid] == [True, False, True, False]
    assert [kid[1], kid[3]] == [measured[2], measured[4]]
    # each measurement records what it cost, and the run's training clock counts it (benchmarks/eval_cost.py)
    seconds = [r["seconds"] for r in runs.load_metrics(run)]
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    # both fall on a process's last epoch, after which the checkpoint is saved: its clock must hold them
    assert runs.checkpoint_meta(run)["train_seconds"] >= sum(runs.load_history(run)["epoch_seconds"]) + sum(seconds)
