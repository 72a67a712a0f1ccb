import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from animegan_tf import lab, plots, runs
from animegan_tf.files import read_jsonl
from animegan_tf.sampling import load_generator
from animegan_tf.training import train
from conftest import blob_images, position, tiny_config


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    train(tiny_config(epochs=2), blob_images(16), root / "a", verbose=0)
    train(tiny_config(epochs=1, g_lr=1e-4, batch_size=4), blob_images(16), root / "b", verbose=0)
    runs.append_metrics(root / "a", {"epoch": 2, "kid": 0.5, "gq_pct": 10.0, "dq_pct": 20.0, "pq_pct": 70.0})
    return root


def test_find_and_load_runs(two_runs):
    dirs = runs.find_runs(two_runs)
    assert [d.name for d in dirs] == ["a", "b"]
    a = runs.load_run(dirs[0])
    assert a["config"].epochs == 2 and len(a["history"]["g_loss"]) == 2
    assert position(a["checkpoint"]) == (2, 0) and a["checkpoint"]["train_cpu_seconds"] > 0
    assert a["grid"].name == "epoch_0002.png"
    assert a["metrics"][-1]["kid"] == 0.5


def test_runs_table(two_runs):
    table = runs.runs_table(runs.find_runs(two_runs))
    assert list(table["run"]) == ["a", "b"]
    assert list(table["batch"]) == [8, 4] and list(table["g_lr"]) == [2e-4, 1e-4]
    assert table.loc[0, "kid"] == 0.5 and np.isnan(table.loc[1, "kid"])
    assert (table["s_per_epoch"] > 0).all()


def test_metrics_append_keeps_every_line(tmp_path):
    for i in range(3):
        runs.append_metrics(tmp_path, {"epoch": i})
    assert [m["epoch"] for m in runs.load_metrics(tmp_path)] == [0, 1, 2]


def test_plots_draw_every_run(two_runs):
    loaded = [runs.load_run(d) for d in runs.find_runs(two_runs)]
    fig = plots.loss_panels(loaded)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3
    assert len(plots.overlaid_losses(loaded).axes[0].lines) == 2
    assert len(plots.sample_grids(loaded).axes) == 2
    bars = plots.tally_bars({"a": {"gq_pct": 10, "dq_pct": 20, "pq_pct": 70}, "b": {"gq_pct": 50, "dq_pct": 50,
                                                                                   "pq_pct": 0}})
    heights = [p.get_height() for p in bars.axes[0].patches]
    assert heights == [10, 50, 20, 50, 70, 0]


def test_slerp_and_interpolation_strip(two_runs):
    a, b = np.random.default_rng(0).standard_normal((2, 8))
    assert np.allclose(plots.slerp(a, b, 0.0), a) and np.allclose(plots.slerp(a, b, 1.0), b)
    strip = plots.interpolation_strip(load_generator(two_runs / "a"), steps=5)
    assert strip.shape == (16, 80, 3) and strip.dtype == np.uint8
    assert not np.array_equal(strip[:, :16], strip[:, -16:])


def test_lab_run_reuses_finished_and_continues_unfinished(tmp_path, monkeypatch, capsys):
    cfg = tiny_config(epochs=2)
    images = blob_images(16)
    run_dir = tmp_path / "r"
    train(cfg.replace(epochs=1), images, run_dir, verbose=0)
    lab.run(cfg, "synthetic:16", run_dir, images=images)  # continues to epoch 2
    assert runs.checkpoint_meta(run_dir)["epoch"] == 2
    lab.run(cfg, "synthetic:16", run_dir, images=images)  # finished: reused
    assert "reusing" in capsys.readouterr().out
    lab.run(cfg.replace(epochs=1), "synthetic:16", run_dir, images=images, fresh=True)  # fresh: starts over
    assert runs.checkpoint_meta(run_dir)["epoch"] == 1


def test_settings_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANIMEGAN_FAST", "1")
    monkeypatch.setenv("ANIMEGAN_RUNS", str(tmp_path))
    fast = lab.settings("nb")
    assert fast.fast and fast.data.startswith("synthetic:") and fast.runs_root == tmp_path / "fast" / "nb"
    monkeypatch.delenv("ANIMEGAN_FAST")
    monkeypatch.setenv("ANIMEGAN_DATA", "/some/faces")
    monkeypatch.setenv("ANIMEGAN_MINUTES", "7.5")
    full = lab.settings("nb")
    assert (full.fast, full.data, full.minutes, full.n_eval) == (False, "/some/faces", 7.5, 1000)
    monkeypatch.delenv("ANIMEGAN_DATA")
    assert lab.settings("nb").data == "synthetic"  # no Kaggle set in the (test) data folder
    assert lab.for_this_machine(tiny_config(precision="mixed_float16"), fast=True).precision == "auto"


def test_checkpoints_are_read_by_name_and_old_index_keyed_ones_still_load(tmp_path):
    import shutil

    from animegan_tf.sampling import build_gan

    run = tmp_path / "run"
    cfg = tiny_config(epochs=1, ema_decay=0.9)
    train(cfg, blob_images(16), run, verbose=0)
    with np.load(run / runs.CHECKPOINT) as ckpt:
        stored = {k: ckpt[k] for k in ckpt.files}
    assert "generator/generator/project/kernel" in stored and "g_optimizer/adam/iteration" in stored

    def restored(arrays):
        other = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
        (other / "checkpoints").mkdir(parents=True)
        shutil.copy(run / "config.json", other / "config.json")
        np.savez(other / runs.CHECKPOINT, **arrays)
        gan = build_gan(cfg)
        gan.build_optimizers()
        runs.restore_checkpoint(other, gan)
        return [v.numpy() for v in gan.weights + gan.g_optimizer.variables + gan.d_optimizer.variables]

    expected = restored(stored)
    assert all(np.array_equal(a, b) for a, b in zip(expected, restored(dict(reversed(list(stored.items()))))))

    gan = build_gan(cfg)
    gan.build_optimizers()
    old = {"meta": stored["meta"]}  # the format before names: each group's variables in model order, by index
    for group, variables in runs._state_groups(gan).items():
        for i, key in enumerate(runs.variable_keys(group, variables)):
            old[f"{group}/{i:04d}"] = stored[key]
    assert all(np.array_equal(a, b) for a, b in zip(expected, restored(old)))

    renamed = dict(stored)
    renamed["generator/generator/project/kernel_x"] = renamed.pop("generator/generator/project/kernel")
    with pytest.raises(ValueError, match="generator variables do not match"):
        restored(renamed)


def test_read_jsonl_keeps_order_skips_blank_lines_and_reads_a_missing_file_as_empty(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"kimg": 200, "fid": 120.4}\n\n{"kimg": 400, "fid": 98.6}\n   \n')
    assert read_jsonl(path) == [{"kimg": 200, "fid": 120.4}, {"kimg": 400, "fid": 98.6}]
    assert read_jsonl(tmp_path / "missing.jsonl") == []
    runs.append_metrics(tmp_path, {"epoch": 1, "kid": 0.25})  # what the run folders append, read back the same way
    assert read_jsonl(tmp_path / "metrics.jsonl") == runs.load_metrics(tmp_path) == [{"epoch": 1, "kid": 0.25}]
