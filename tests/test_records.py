"""Notebook records in the repository: a finished run's record round-trips, is reused when it matches (nothing is
trained), is invalidated by a changed config, data, budget or sample count, and FAST runs never write one among the
committed results."""

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from animegan_tf import lab, records, runs
from conftest import blob_images, tiny_config


def settings(tmp_path, **changes) -> lab.Settings:
    base = lab.Settings(fast=False, device="CPU", data=str(tmp_path / "faces" / "calib"), minutes=None,
                        cpu_minutes=None, n_small=4, n_eval=8, runs_root=tmp_path / "runs" / "01_nb", kimg=0.064,
                        results=tmp_path / "results" / "01_nb")
    return dataclasses.replace(base, **changes)


def test_a_record_round_trips_and_carries_no_machine_path(tmp_path):
    s, images, cfg = settings(tmp_path), blob_images(32), tiny_config(epochs=50, ema_decay=0.9)
    record = lab.run_recorded(s, "lr-2e-4", cfg, images, images, changes={"g_lr": 2e-4})
    path = s.results / "lr-2e-4.json"
    assert record == records.load(s.results, "lr-2e-4")
    assert json.loads(path.read_text()) == {k: v for k, v in record.items() if k not in records.PATHS}
    assert record["grid_path"] == str(s.results / "lr-2e-4.png") and record["raw_grid_path"] is None
    assert record["data"] == {"name": "calib", "images": 32} and str(tmp_path) not in path.read_text()
    assert record["kimg"] == 0.064 and record["images_shown"] == 64 and record["steps"] == 8
    assert record["config"] == json.loads(cfg.to_json()) and record["changes"] == {"g_lr": 2e-4}
    assert record["evaluation"]["n"] == 8 and record["evaluation"]["generator"] == "ema"
    assert record["evaluation"]["kid"] == lab.evaluate(s.runs_root / "lr-2e-4", images, 8)["kid"]
    small = lab.evaluate(s.runs_root / "lr-2e-4", images, 4, seed=1)  # the seeds' by-eye size, other latents
    assert record["small"]["n"] == 4 and record["small"]["GQ"] == small["GQ"] and record["small"]["seed"] == 1
    assert record["judge"] == record["evaluation"]["judge"] == records.JUDGE_VERSION and "raw" not in record
    assert record["machine"]["img_per_s"] > 0 and "cpu" in record["machine"]
    assert len(record["curves"]["g_loss"]) == record["epochs"] == 2
    assert Image.open(s.results / "lr-2e-4.png").size == (64, 64)  # 16 faces of 16x16
    gathered = records.gather(s.results.parent)
    assert [(g["notebook"], g["run"]) for g in gathered] == [("01_nb", "lr-2e-4")]
    assert gathered[0]["grid_path"].endswith("lr-2e-4.png")


def test_a_notebook_whose_records_exist_trains_nothing_and_a_change_invalidates_them(tmp_path, capsys):
    s, images, cfg = settings(tmp_path), blob_images(32), tiny_config(epochs=50)
    first = lab.run_recorded(s, "a", cfg, images, images)
    runs_dir = s.runs_root / "a"
    for path in sorted(runs_dir.rglob("*"), reverse=True):  # another machine: the run folder is gone
        path.unlink() if path.is_file() else path.rmdir()
    runs_dir.rmdir()
    capsys.readouterr()
    assert lab.run_recorded(s, "a", cfg, images, images) == first
    assert "from its record" in capsys.readouterr().out and not runs_dir.exists()  # nothing trained

    for name, changed in (("config", dict(cfg=cfg.replace(g_lr=1e-3))), ("budget", dict(s=settings(tmp_path, kimg=0.128))),
                          ("samples", dict(s=settings(tmp_path, n_eval=10))),
                          ("data", dict(images=blob_images(40)))):
        args = {"s": s, "cfg": cfg, "images": images, **changed}
        record = lab.run_recorded(args["s"], "a", args["cfg"], args["images"], args["images"])
        assert runs_dir.exists(), name  # trained again
        assert record != first and records.load(s.results, "a") == record, name
        for path in sorted(runs_dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        runs_dir.rmdir()


def test_a_sibling_notebooks_record_of_the_same_run_is_reused(tmp_path, capsys):
    first, images, cfg = settings(tmp_path), blob_images(32), tiny_config(epochs=50, ema_decay=0.9)
    made = lab.run_recorded(first, "fast", cfg, images, images, raw=True)
    second = settings(tmp_path, runs_root=tmp_path / "runs" / "02_nb", results=tmp_path / "results" / "02_nb")
    capsys.readouterr()
    assert lab.run_recorded(second, "fast", cfg, images, images, raw=True) == made
    assert "from 01_nb's record" in capsys.readouterr().out and not (second.runs_root / "fast").exists()
    assert lab.run_recorded(second, "fast", cfg, images, images) == made  # a raw evaluation asked for or not
    other = lab.run_recorded(second, "fast", cfg.replace(g_lr=1e-3), images, images, raw=True)
    assert other["notebook"] == "02_nb" and (second.runs_root / "fast").exists()  # another config: trained


def test_a_record_without_the_raw_evaluation_asked_for_is_judged_again(tmp_path):
    s, images, cfg = settings(tmp_path), blob_images(32), tiny_config(epochs=50, ema_decay=0.9)
    plain = lab.run_recorded(s, "fast", cfg, images, images)
    assert "raw" not in plain and not records.matches(plain, cfg, s.kimg, plain["data"], s.n_eval, raw=True)
    with_raw = lab.run_recorded(s, "fast", cfg, images, images, raw=True)
    assert with_raw["raw"]["generator"] == "raw" and with_raw["evaluation"] == plain["evaluation"]
    assert with_raw["steps"] == plain["steps"]  # judged again, not trained again
    assert records.load(s.results, "fast")["raw_grid_path"].endswith("fast.raw.png")


def test_the_readme_table_is_written_from_the_records(tmp_path):
    s, images = settings(tmp_path), blob_images(32)
    made = [lab.run_recorded(s, name, tiny_config(epochs=50, g_lr=lr), images, images)
            for name, lr in (("slow", 1e-5), ("quick", 2e-3))]
    text = f"intro\n{records.BEGIN}\nold rows\n{records.END}\nrest\n"
    readme = tmp_path / "README.md"
    readme.write_text(text)
    assert records.main([str(readme), str(s.results.parent)]) == 0
    new = readme.read_text()
    assert new.startswith(f"intro\n{records.BEGIN}\n| notebook |") and new.endswith(f"{records.END}\nrest\n")
    assert "old rows" not in new
    for record in made:
        row = next(line for line in new.splitlines() if f"| {record['run']} |" in line)
        assert f"{record['evaluation']['kid']:.4f} ± {record['evaluation']['kid_std']:.4f}" in row
    assert records.main([str(tmp_path / "missing.md")]) == 2 and records.main([]) == 2


def test_the_readme_table_takes_records_without_a_kimg_budget_or_a_finite_kid(tmp_path):
    base = {"format": records.RECORD_FORMAT, "notebook": "01_nb", "kimg": None, "images_shown": 12345,
            "judge": 2, "date": "2026-12-01", "machine": {"device": "CPU", "cpu": "a CPU", "img_per_s": None},
            "evaluation": {"kid": None, "kid_std": None, "gq_pct": 1.0, "dq_pct": 2.0, "pq_pct": 97.0}}
    finite = {**base, "run": "b", "evaluation": {**base["evaluation"], "kid": 0.5, "kid_std": 0.01}}
    lines = records.markdown_table([{**base, "run": "a"}, finite]).splitlines()
    assert lines[2].startswith("| 01_nb | b | 12.3 | 0.5000 ± 0.0100 |")  # a finite KID sorts first
    assert lines[3].startswith("| 01_nb | a | 12.3 | – | – |")


def test_a_record_saved_again_without_its_raw_grid_leaves_no_stale_picture(tmp_path):
    grid = np.zeros((8, 8, 3), np.uint8)
    record = {"run": "r", "format": records.RECORD_FORMAT, "raw": {"n": 1}}
    records.save(tmp_path, record, grid, grid)
    assert records.load(tmp_path, "r")["raw_grid_path"].endswith("r.raw.png")
    records.save(tmp_path, {"run": "r", "format": records.RECORD_FORMAT}, grid)
    assert not (tmp_path / "r.raw.png").exists() and records.load(tmp_path, "r")["raw_grid_path"] is None


def test_fast_runs_write_no_record(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMEGAN_FAST", "1")
    monkeypatch.setenv("ANIMEGAN_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("ANIMEGAN_RESULTS", str(tmp_path / "results"))
    s = lab.settings("01_nb", kimg=200)
    assert s.results is None and s.kimg == 0.256
    images = blob_images(16)
    record = lab.run_recorded(dataclasses.replace(s, data="synthetic:16"), "a", tiny_config(epochs=50), images, images)
    assert record["kimg"] == 0.256 and not (tmp_path / "results").exists()
    assert record == records.load(tmp_path / "runs" / "fast" / "01_nb" / "a" / "record", "a")  # beside the run
    monkeypatch.delenv("ANIMEGAN_FAST")
    assert lab.settings("01_nb", kimg=200).results == tmp_path / "results" / "01_nb"
    monkeypatch.setenv("ANIMEGAN_KIMG", "50")
    assert lab.settings("01_nb", kimg=200).kimg == 50


def test_an_unfinished_run_has_no_record_yet(tmp_path):
    s, images = settings(tmp_path, minutes=1e-9), blob_images(32)
    assert lab.run_recorded(s, "a", tiny_config(epochs=50), images, images) is None
    assert not (s.results / "a.json").exists()
    assert runs.checkpoint_meta(s.runs_root / "a") is not None  # it continues next time


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", ""])
def test_record_names_are_plain_file_names(tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        records.load(tmp_path, name)


def test_non_finite_figures_are_written_as_null(tmp_path):
    record = {"run": "r", "format": records.RECORD_FORMAT, "evaluation": {"fid": None}}
    records.save(tmp_path, record, np.zeros((8, 8, 3), np.uint8))
    assert json.loads((tmp_path / "r.json").read_text()) == record
    assert records._finite(float("nan")) is None and records._finite(1.5) == 1.5


def test_the_records_table_reads_gathered_records(tmp_path):
    s, images = settings(tmp_path), blob_images(32)
    for name, lr in (("slow", 1e-5), ("quick", 2e-3)):
        lab.run_recorded(s, name, tiny_config(epochs=50, g_lr=lr), images, images)
    found = records.gather(s.results.parent)
    table = lab.records_table(found)
    kids = sorted(r["evaluation"]["kid"] for r in found)
    assert list(table.index) == [f"01_nb/{r['run']}" for r in sorted(found, key=lambda r: r["evaluation"]["kid"])]
    assert table.iloc[0]["KID ± std"].startswith(f"{kids[0]:.4f}") and table.iloc[0]["data"] == "calib (32)"
    readme = records.markdown_table(found).splitlines()
    columns = [c.strip() for c in readme[0].strip("|").split("|")]
    for line in readme[2:]:  # the README's rows and notebook 04's show the same figures
        cells = dict(zip(columns, (c.strip() for c in line.strip("|").split("|"))))
        shown = table.loc[f"{cells['notebook']}/{cells['run']}"]
        assert all(str(shown[c]) == cells[c] for c in columns if c not in ("notebook", "run", "kimg"))
        assert float(cells["kimg"]) == shown["kimg"] == 0.064


def test_the_plan_measures_this_machine_and_counts_recorded_runs_as_free(tmp_path):
    s, images = settings(tmp_path, kimg=1.0), blob_images(32)
    recorded, new = tiny_config(epochs=50, ema_decay=0.9), tiny_config(epochs=50, g_lr=1e-3)
    lab.run_recorded(dataclasses.replace(s, kimg=1.0), "kept", recorded, images, images)
    table = lab.plan(s, {"kept": recorded, "new": new}, images, steps=2)
    assert table.loc["kept", "source"] == "record" and table.loc["kept", "training hours"] == 0.0
    speed = table.loc["new", "img/s"]
    assert speed > 0 and table.loc["new", "training hours"] == pytest.approx(1000 / speed / 3600, abs=0.01)
    assert table.loc["total", "training hours"] == pytest.approx(table.loc["new", "training hours"], abs=0.01)
    assert not (s.runs_root / "new").exists()  # measuring trains nothing the notebook keeps
    kept_raw = lab.plan(s, {"kept": recorded}, images, steps=2, raw=["kept"])  # its record lacks the raw evaluation
    assert kept_raw.loc["kept", "source"] != "record"
    lab.run(new, s.data, s.runs_root / "new", images=images, kimg=1.0)  # trained here, not yet judged
    again = lab.plan(s, {"kept": recorded, "new": new}, images, steps=2)
    assert again.loc["new", "source"] == "trained here (to judge)" and again.loc["total", "training hours"] == 0.0


def test_plots_draw_records_against_kimg_with_their_grids(tmp_path):
    from animegan_tf import plots

    s, images = settings(tmp_path, kimg=0.128), blob_images(32)
    found = [lab.run_recorded(s, name, tiny_config(epochs=50, g_lr=lr), images, images)
             for name, lr in (("a", 1e-4), ("b", 2e-3))]
    fig = plots.loss_panels(found)
    assert fig.axes[0].get_xlabel() == "kimg" and fig.axes[0].get_title() == "a"
    x = fig.axes[0].lines[0].get_xdata()
    assert list(x) == found[0]["curves"]["kimg"] and x[-1] == pytest.approx(0.128)
    assert [list(line.get_ydata()) for line in fig.axes[0].lines] == [
        found[0]["curves"][k] for k in ("g_loss", "d_real_loss", "d_fake_loss")]
    assert len(plots.overlaid_losses(found).axes[0].lines) == 2
    grids = plots.sample_grids(found)
    assert [ax.get_title() for ax in grids.axes] == ["a\n0.128 kimg", "b\n0.128 kimg"]
    shown = grids.axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.asarray(shown), np.asarray(Image.open(found[0]["grid_path"])))


def test_a_curve_with_a_missing_kimg_is_drawn_against_epochs(tmp_path):
    from animegan_tf import plots

    s, images = settings(tmp_path, kimg=0.128), blob_images(32)
    record = lab.run_recorded(s, "a", tiny_config(epochs=50), images, images)
    n = len(record["curves"]["g_loss"])
    gap = {**record, "curves": {**record["curves"], "kimg": [None] + record["curves"]["kimg"][1:]}}
    for shown, unit, x in ((record, "kimg", record["curves"]["kimg"]), (gap, "epoch", list(range(1, n + 1)))):
        ax = plots.loss_panels([shown]).axes[0]
        assert ax.get_xlabel() == unit and list(ax.lines[0].get_xdata()) == x


def test_the_set_up_line_names_the_data_and_the_budget_without_a_machine_path(tmp_path):
    s, images = settings(tmp_path), blob_images(32)
    line = lab.describe(s, images, images[:8])
    assert line.startswith("data: calib (32 images of ") and str(tmp_path) not in line
    assert "budget: 0.064 kimg" in line and "judged: 8 samples per run" in line


def test_a_grid_of_one_repeated_face_is_called_collapsed_and_a_varied_one_is_not(tmp_path):
    from animegan_tf.files import image_grid

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    tinted = (np.repeat(faces[:1].astype(np.float64), 16, axis=0) * rng.uniform(0.3, 0.7, (16, 1, 1, 1))
              + rng.uniform(0, 70, (16, 1, 1, 1)))  # each cell brighter or darker, more or less contrast
    two = np.concatenate([np.repeat(faces[:1], 14, axis=0), np.repeat(faces[1:2], 2, axis=0)])  # one face, twice another
    for name, grid in (("varied", faces), ("tinted", tinted.astype(np.uint8)), ("two", two)):
        records.save(tmp_path, {"run": name, "format": records.RECORD_FORMAT}, image_grid(grid))
    varied, tinted, two = (records.load(tmp_path, name) for name in ("varied", "tinted", "two"))
    luma = faces.astype(np.float64) @ records.LUMA
    luma = (luma - luma.mean(axis=(1, 2), keepdims=True)) / luma.std(axis=(1, 2), keepdims=True)
    assert records.spread(varied) == pytest.approx(luma.std(axis=0).mean(), abs=1e-3)
    assert records.grid_state(records.spread(varied)) == "varied"
    assert records.spread(tinted) < 0.1 and records.collapsed(tinted)  # one face, lit differently: one shape
    assert records.grid_state(records.spread(two)) == "partly collapsed" and not records.collapsed(two)
    assert records.spread({"run": "x"}) is None and records.grid_state(None) is None
    line = lab.collapsed_runs({"varied": varied, "tinted": tinted, "two": two})
    assert line.startswith("collapsed: tinted (0.0") and "partly collapsed: two (" in line
    assert lab.collapsed_runs({"varied": varied}).startswith("collapsed: none; partly collapsed: none")
