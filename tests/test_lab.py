"""What the notebooks call: budgets that span sessions, cached evaluations of either generator, tables, claims."""

import json

import numpy as np
import pytest

from animegan_tf import compare, lab, runs
from animegan_tf.files import image_grid
from animegan_tf.sampling import generate, load_generator
from conftest import blob_images, position, tiny_config


def test_a_run_continues_until_its_cpu_budget_is_spent_and_is_then_reused(tmp_path, capsys):
    run, images, cfg = tmp_path / "run", blob_images(32), tiny_config(epochs=50)
    lab.run(cfg, "synthetic:32", run, cpu_minutes=1e-9, images=images)
    first = runs.checkpoint_meta(run)
    assert position(first) == (0, 1)
    lab.run(cfg, "synthetic:32", run, cpu_minutes=1e-9, images=images)  # spent: nothing more
    assert "finished earlier" in capsys.readouterr().out and runs.checkpoint_meta(run) == first
    lab.run(cfg, "synthetic:32", run, cpu_minutes=(first["train_cpu_seconds"] + 0.5) / 60, images=images)
    assert position(runs.checkpoint_meta(run)) > (0, 1)  # a bigger budget: the same run continues


def test_evaluations_are_cached_per_state_and_generator(tmp_path):
    run, images = tmp_path / "run", blob_images(32)
    lab.run(tiny_config(epochs=1, ema_decay=0.9), "synthetic:32", run, images=images)
    averaged = lab.evaluate(run, images, 8)
    assert lab.evaluate(run, images, 8) == averaged and len(runs.load_metrics(run)) == 1  # read back
    raw = lab.evaluate(run, images, 8, ema=False)
    assert (averaged["generator"], raw["generator"]) == ("ema", "raw") and len(runs.load_metrics(run)) == 2
    assert averaged["kid_subset"] == 4  # half the samples: kid_std reflects their spread
    assert lab.latest_evaluation(runs.load_run(run), 8) == averaged  # the generator the run samples with

    table = lab.quality_table({"avg": averaged, "raw": raw})
    lo, hi = compare.interval(raw, "pq")
    assert table.loc["raw", "PQ % [95 %]"] == f"{raw['pq_pct']:.1f} [{lo:.1f}, {hi:.1f}]"



def test_a_record_shows_the_averaged_and_the_raw_generator_side_by_side(tmp_path):
    s = lab.Settings(fast=False, device="CPU", data="synthetic:32", minutes=None, cpu_minutes=None, n_small=4,
                     n_eval=8, runs_root=tmp_path / "runs" / "01_nb", kimg=0.064, results=tmp_path / "results" / "01_nb")
    images = blob_images(32)
    record = lab.run_recorded(s, "fast", tiny_config(epochs=50, ema_decay=0.9), images, images, raw=True)
    run = s.runs_root / "fast"
    a, b, picture = lab.raw_vs_averaged(record)
    assert (a["generator"], b["generator"]) == ("ema", "raw")
    assert a["kid"] == lab.evaluate(run, images, 8)["kid"] and b["kid"] == lab.evaluate(run, images, 8, ema=False)["kid"]
    assert picture.shape == (64, 2 * 64 + 8, 3)  # two 4x4 grids of 16x16 faces and a gap
    for half, ema in ((picture[:, :64], True), (picture[:, 72:], False)):  # the generators' own faces
        np.testing.assert_array_equal(half, image_grid(generate(load_generator(run, ema=ema), 16, seed=0)))
    plain = lab.run_recorded(s, "plain", tiny_config(epochs=50, ema_decay=0.9), images, images)
    with pytest.raises(ValueError, match="no raw-generator evaluation"):
        lab.raw_vs_averaged(plain)


def test_claims_are_kept_beside_the_records_and_gathered(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMEGAN_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("ANIMEGAN_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("ANIMEGAN_FAST", raising=False)
    s = lab.settings("01_x", cpu_minutes=7)
    assert s.cpu_minutes == 7 and s.runs_root == tmp_path / "runs" / "01_x"
    monkeypatch.setenv("ANIMEGAN_CPU_MINUTES", "3")
    assert lab.settings("01_x", cpu_minutes=7).cpu_minutes == 3  # the environment wins
    row = {"claim": "a beats b", "status": "confirmed", "metric": "KID", "measured": "..."}
    lab.save_claims(s, "003", [row], budget="200 kimg")
    assert json.loads((tmp_path / "results" / "01_x" / lab.CLAIMS_FILE).read_text()) == [
        {"seed": "003", **row, "budget": "200 kimg"}]
    monkeypatch.setenv("ANIMEGAN_FAST", "1")  # FAST claims stay in the runs folder
    lab.save_claims(lab.settings("02_y"), "003", [row])
    assert (tmp_path / "runs" / "fast" / "02_y" / lab.CLAIMS_FILE).exists()
    assert not (tmp_path / "results" / "02_y").exists()
    gathered = lab.gathered_claims(tmp_path / "results", tmp_path / "runs" / "fast")
    assert list(gathered["notebook"]) == ["01_x", "02_y"] and list(gathered["status"]) == ["confirmed"] * 2
    assert list(gathered["budget"].fillna("-")) == ["200 kimg", "-"]
