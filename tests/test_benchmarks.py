"""The benchmark scripts: the bare loop they compare against is the lab's update, and the scripts run.

Nothing here times anything (timings live in BENCHMARKS.md); the PyTorch and Keras-JAX scripts need environments
that `make test` does not install and are not run here.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from animegan_tf.config import preset
from animegan_tf.data import normalize
from animegan_tf.models import build_discriminator, build_generator
from animegan_tf.quality.evaluate import evaluate_images, reference_sample
from animegan_tf import runs
from animegan_tf.runs import checkpoint_meta
from animegan_tf.sampling import build_gan, export_generator, generate, load_average, load_generator
from animegan_tf.training import train
from animegan_tf.web.app import create_app
from conftest import blob_images, tiny_config

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import export_pretrained  # noqa: E402
import long_run_plot  # noqa: E402
import model_flops  # noqa: E402
import recipe_screen  # noqa: E402
import time_to_quality  # noqa: E402
import train_throughput  # noqa: E402


def run_script(name, *args, timeout=300):
    return subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_bare_loop_makes_the_same_update_as_train_step():
    # The fit-vs-bare ratio only means something if both sides do the same work: same z, same losses, same updates.
    cfg = tiny_config(seed=3)
    real = normalize(blob_images(8))
    lab, bare = build_gan(cfg), build_gan(cfg)
    for a, b in zip(lab.weights, bare.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    before = [w.numpy() for w in lab.generator.weights]

    lab.train_step(tf.constant(real))
    train_throughput.bare_loop(bare, cfg, jit=False)(tf.constant(real))

    for a, b in zip(lab.generator.weights + lab.discriminator.weights,
                    bare.generator.weights + bare.discriminator.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6, err_msg=a.path)
    assert any(not np.allclose(w.numpy(), b) for w, b in zip(lab.generator.weights, before))  # G was updated


def test_throughput_script_runs_fit_and_bare():
    proc = run_script("train_throughput.py", "--batch", "8", "--steps", "2", "--repeats", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("fit ") and "img/s" in line for line in lines)
    assert any(line.startswith("bare ") and "img/s" in line for line in lines)


def test_time_to_quality_rejects_a_missing_faces_folder(tmp_path):
    proc = run_script("time_to_quality.py", "--faces", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr


def test_time_to_quality_scores_at_kimg_marks_and_reports_the_minutes_too(tmp_path, image_folder):
    out = tmp_path / "ttq"
    proc = run_script("time_to_quality.py", "--faces", str(image_folder), "--systems",
                      "fast+batch_size=8+g_base_filters=32+g_filters=16,8,8+d_filters=8,8,16,16", "--kimg", "0.016",
                      "0.04", "--samples", "16", "--ref", "8", "--no-raw", "--out", str(out), "--plot",
                      str(tmp_path / "p.png"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert all(r["cpu"] and r["started_date"] == r["date"] and 0 <= r["shape_spread"] < 2 for r in rows)
    assert [(r["mark"], r["unit"], r["steps"], r["kimg"]) for r in rows] == [(0.016, "kimg", 2, 0.016),
                                                                             (0.04, "kimg", 5, 0.04)]
    assert 0 < rows[0]["minutes"] <= rows[1]["minutes"] and (tmp_path / "p.png").exists()


def test_time_to_quality_plots_several_results_files_together_without_faces(tmp_path, monkeypatch, capsys):
    def row(system, kimg, minutes, fid):
        return json.dumps({"system": system, "mark": kimg, "unit": "kimg", "kimg": kimg, "minutes": minutes,
                           "fid": fid})

    def main(*args):  # in process: the script's TensorFlow import is paid once, by this module
        monkeypatch.setattr(sys, "argv", ["time_to_quality.py", *map(str, args)])
        try:
            time_to_quality.main()
        except SystemExit as exc:
            return exc.code
        return 0

    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(row("fast", 100, 5.8, 165.7) + "\n" + row("fast", 200, 11.0, 120.1) + "\n")
    second.write_text(row("torch", 100, 25.0, 300.0) + "\n\n")
    assert [r["system"] for r in time_to_quality.read_rows([first, second])] == ["fast", "fast", "torch"]
    both, one = tmp_path / "both.png", tmp_path / "one.png"
    assert main("--plot-only", "--results", first, second, "--plot", both) == 0
    assert main("--plot-only", "--results", first, "--plot", one) == 0
    assert Image.open(both).size[0] > 500 and both.read_bytes() != one.read_bytes()  # the second file is drawn
    capsys.readouterr()

    assert main("--plot-only", "--results", first, tmp_path / "no.jsonl", "--plot", both) == 2
    assert "no.jsonl does not exist" in capsys.readouterr().err.strip().splitlines()[-1]
    assert main("--plot-only", "--results", first) == 2 and "needs --plot" in capsys.readouterr().err
    assert main("--plot-only", "--plot", both) == 2 and "needs --results" in capsys.readouterr().err


def test_time_to_quality_draws_two_runs_of_one_system_as_two_lines():
    def row(system, kimg, date, started):
        return {"system": system, "kimg": kimg, "date": date, "started": started}

    rows = [row("fast", 100, "2026-12-02", "22:46"), row("fast-v1", 100, "2026-12-02", "22:46"),
            row("fast", 400, "2026-12-02", "22:46"), row("fast", 400, "2026-12-04", "13:44"),
            row("fast", 1000, "2026-12-04", "13:44")]
    drawn = time_to_quality.lines(rows)
    assert list(drawn) == ["fast, 2026-12-02 22:46", "fast-v1", "fast, 2026-12-04 13:44"]
    assert [r["kimg"] for r in drawn["fast, 2026-12-02 22:46"]] == [100, 400]
    assert [r["kimg"] for r in drawn["fast, 2026-12-04 13:44"]] == [400, 1000]
    assert list(time_to_quality.lines([{"system": "torch", "kimg": 1}, {"system": "torch", "kimg": 2}])) == ["torch"]
    overnight = [dict(row("dcgan", 100, "2026-12-04", "23:10"), started_date="2026-12-04"),
                 dict(row("dcgan", 400, "2026-12-05", "23:10"), started_date="2026-12-04")]
    assert list(time_to_quality.lines(overnight)) == ["dcgan"]  # scored after midnight, still one run


def test_eval_cost_measures_the_evaluations_share_of_the_training_clock(tmp_path, image_folder):
    import eval_cost

    assert eval_cost.share(10.0, kimg_between=45.0, s_per_kimg=2.0) == 0.1  # 10 s after 90 s of training
    proc = run_script("eval_cost.py", "--faces", str(image_folder), "--system",
                      "fast+batch_size=8+g_base_filters=32+g_filters=16,8,8+d_filters=8,8,16,16", "--epochs", "2",
                      "--every", "1", "--samples", "8", "--sizes", "24", "240", "--cadences", "1", "4",
                      "--out", str(tmp_path / "cost"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    measured = next(line for line in proc.stdout.splitlines() if line.startswith("measured:"))
    assert measured.startswith("measured: 2 evaluations")
    shares = [float(line.split("|")[4].strip(" %")) for line in proc.stdout.splitlines()
              if line.startswith("| 24")]  # the rows of 24 and of 240 faces
    assert len(shares) == 4 and all(0 < s < 100 for s in shares)
    assert shares[0] > shares[1] > shares[3] and shares[0] > shares[2] > shares[3]  # rarer or longer: cheaper


def test_eval_cost_rejects_a_run_with_fewer_than_two_evaluations(tmp_path):
    proc = run_script("eval_cost.py", "--faces", str(tmp_path), "--epochs", "3", "--every", "2", "--out",
                      str(tmp_path / "cost"))
    assert proc.returncode == 2 and "at least two evaluations" in proc.stderr


def test_model_flops_counts_each_layer_from_the_config():
    # Hand arithmetic from the config's fields: G projects z to 4x4 with a k4 transposed conv, then each stage
    # scatters a k x k x cout patch per input pixel; D gathers a k x k x cin patch per output pixel, head k4 on 4x4.
    cfg = preset("fast").replace(g_base_filters=48, g_filters=(24, 12, 8), d_filters=(8, 16, 24, 40))
    g = 16 * cfg.latent_dim * 48
    side, cin = 4, 48
    for cout in (24, 12, 8, 3):
        g += side * side * cin * 16 * cout
        side, cin = side * 2, cout
    d, side, cin = 0, 64, 3
    for cout in (8, 16, 24, 40):
        side //= 2
        d += side * side * cout * 16 * cin
        cin = cout
    d += 16 * 40  # logit conv over the 4x4 map
    assert model_flops.model_macs(build_generator(cfg, dtype="float32")) == g
    assert model_flops.model_macs(build_discriminator(cfg, dtype="float32")) == d
    sn = model_flops.model_macs(build_discriminator(cfg.replace(d_spectral_norm=True), dtype="float32"))
    assert sn == d  # spectral norm wraps the same convolutions


def test_recipe_screen_keeps_and_scores_averages_of_other_half_lives(tmp_path, image_folder):
    # No ramp: the run's own average (a 44k-image half-life) barely leaves its start in two steps, a 8-image one
    # moves halfway to the trained generator each step.
    system = "fast+batch_size=8+g_base_filters=32+g_filters=16,8,8+d_filters=8,8,16,16+ema_rampup=0"
    out = tmp_path / "screen"
    proc = run_script("recipe_screen.py", "--faces", str(image_folder), "--systems", system, "--seeds", "0",
                      "--samples", "8", "--out", str(out), "--kimg", "0.016", "--averages", "0.008", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    own, other = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert (own["generator"], other["generator"], other["halflife_images"]) == ("ema", "ema0.008k", 8)
    assert "halflife_images" not in own
    for key in ("images_shown", "epoch", "train_seconds", "faces"):
        assert other[key] == own[key], key  # one run, two generators
    run_dir = out / "runs" / f"{system}-seed0"
    samples = np.load(out / "samples" / f"{system}-seed0-0.016kimg-ema0.008k.npy")
    np.testing.assert_array_equal(samples, generate(load_average(run_dir, 8), 8, seed=0))
    assert not np.array_equal(samples, np.load(out / "samples" / f"{system}-seed0-0.016kimg-ema.npy"))
    assert other["fid"] != pytest.approx(own["fid"])
    # Shipped (export_pretrained.py --average): the kept average, not the run's own, in float32 and in int8.
    shipped = export_generator(run_dir, tmp_path / "shipped", {"scored": other}, average=8)
    np.testing.assert_array_equal(generate(load_generator(shipped), 8, seed=0), samples)
    assert runs.load_config(shipped) == runs.load_config(run_dir) and runs.read_made(shipped) == {"scored": other}
    # the page says which average it is (its row's half-life), not the run's own EMA decay
    listed = create_app(tmp_path).test_client().get("/api/runs").get_json()["runs"]
    assert next(r for r in listed if r["name"] == "shipped")["made"]["halflife"] == 8
    packed = export_generator(run_dir, tmp_path / "packed", {}, int8=True, average=8)
    assert (packed / runs.INT8_GENERATOR).exists() and not (packed / runs.FINAL_GENERATOR).exists()
    assert np.abs(generate(load_generator(packed), 8, seed=0).astype(int) - samples).mean() < 2
    # its weights are the kept average's, off by rounding, and far from the run's own average
    packed_w, kept_w, own_w = (g.get_weights() for g in (load_generator(packed), load_average(run_dir, 8),
                                                          load_generator(run_dir)))
    to_kept = sum(np.abs(a - b).sum() for a, b in zip(packed_w, kept_w))
    assert to_kept < sum(np.abs(a - b).sum() for a, b in zip(packed_w, own_w)) / 4
    with pytest.raises(FileNotFoundError, match="no average of half-life 24 images"):
        export_generator(run_dir, tmp_path / "never", {}, average=24)
    assert not (tmp_path / "never").exists()

    # An average asked for at a mark the run already stands at was never kept there: said, not scored.
    proc = run_script("recipe_screen.py", "--faces", str(image_folder), "--systems", system, "--seeds", "0",
                      "--samples", "8", "--out", str(out), "--kimg", "0.016", "--averages", "0.008", "0.024")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0.016 kimg ema0.024k: skipped, the run folder keeps no average of that half-life" in proc.stdout
    assert len((out / "results.jsonl").read_text().splitlines()) == 2

    proc = run_script("recipe_screen.py", "--faces", str(image_folder), "--systems", system, "--kimg", "0.016",
                      "--averages", "0", "--out", str(out))
    assert proc.returncode == 2 and "--averages: half-lives must be at least 0.001 kimg" in proc.stderr

    # export_pretrained.py --average ships only an average scored at the run's state, and refuses before writing.
    def export(*args):
        return run_script("export_pretrained.py", "--screen", str(out), "--system", system, "--seed", "0", "--kimg",
                          "0.016", "--name", "never-written", "--command", "test", *args)

    proc = export("--average", "0.024")  # asked for above, never kept at this mark: no row
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: no scored 0.016-kimg row of ema0.024k of {system} seed 0 "
                                                f"whose run stopped there in {out}"]
    kept = load_average(run_dir, 8)  # the file stands for another state than the one its row scored
    runs.save_average(run_dir, 8, kept.weights, kept.get_weights(), steps=1)
    proc = export("--average", "0.008")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {run_dir} keeps no average of 0.008 kimg at the state its "
                                                "row scored"]
    assert export("--average", "0").returncode == 2
    assert not (BENCHMARKS.parent / "animegan_tf" / "pretrained" / "never-written").exists()


def test_model_flops_rejects_a_bad_system():
    proc = run_script("model_flops.py", "--systems", "fast+g_lr=fast")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")


def test_recipe_screen_scores_saved_samples_against_other_faces_without_training(tmp_path, image_folder):
    other = tmp_path / "other_faces"
    other.mkdir()
    for i, arr in enumerate(blob_images(24, size=24, seed=11)):
        Image.fromarray(255 - arr).save(other / f"o_{i:02d}.png")  # light discs on light ground: other faces
    system = "fast+batch_size=8+g_base_filters=32+g_filters=16,8,8+d_filters=8,8,16,16"
    out = tmp_path / "screen"
    common = ["--faces", str(image_folder), "--systems", system, "--seeds", "0", "--samples", "8", "--out", str(out)]

    def rows():
        return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]

    proc = run_script("recipe_screen.py", *common, "--kimg", "0.016", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [first] = rows()
    assert (first["reference"], first["images_shown"]) == ("faces", 16)
    run_dir = out / "runs" / f"{system}-seed0"
    trained = checkpoint_meta(run_dir)

    proc = run_script("recipe_screen.py", *common, "--kimg", "0.016", "--ref-faces", str(other), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "(saved samples)" in proc.stdout
    assert checkpoint_meta(run_dir) == trained  # scored again, not trained again
    first_again, second = rows()
    assert first_again == first
    assert second["reference"] == "other_faces"
    for key in ("images_shown", "epoch", "train_seconds", "img_per_s", "faces"):
        assert second[key] == first[key], key  # the training it measured is the first row's
    samples = np.load(out / "samples" / f"{system}-seed0-0.016kimg-ema.npy")
    expected = evaluate_images(samples, reference_sample(recipe_screen.load_faces([other]), 8,
                                                         seed=recipe_screen.REFERENCE_SEED), seed=0)
    assert second["kid"] == pytest.approx(expected["kid"]) and second["fid"] == pytest.approx(expected["fid"])
    assert second["fid"] != pytest.approx(first["fid"])

    # Each point is measured once per reference; a mark the run folder has passed is not trained or scored.
    proc = run_script("recipe_screen.py", *common, "--kimg", "0.008", "0.016", "--ref-faces", str(other),
                      timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0.008 kimg: skipped, its run folder is already past this mark" in proc.stdout
    assert len(rows()) == 2 and checkpoint_meta(run_dir) == trained
    # Shipping it under a preset's name it is not is refused before anything is written.
    proc = run_script("export_pretrained.py", "--screen", str(out), "--system", system, "--seed", "0", "--kimg",
                      "0.016", "--name", "never-written", "--command", "test", "--preset", "fast")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {system} is not the fast preset (seed and eval_every aside)"]
    assert not (BENCHMARKS.parent / "animegan_tf" / "pretrained" / "never-written").exists()
    # Nor is a row scored against faces it never was.
    proc = run_script("export_pretrained.py", "--screen", str(out), "--system", system, "--seed", "0", "--kimg",
                      "0.016", "--name", "never-written", "--command", "test", "--reference", "no_such_faces")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: no scored 0.016-kimg row against no_such_faces of {system} "
                                                f"seed 0 whose run stopped there in {out}"]
    assert not (BENCHMARKS.parent / "animegan_tf" / "pretrained" / "never-written").exists()


def test_int8_quality_scores_both_stored_precisions_of_one_run(tmp_path, image_folder):
    run = tmp_path / "run"
    train(tiny_config(epochs=1, ema_decay=0.9), blob_images(16), run, verbose=0)
    proc = run_script("int8_quality.py", "--run", str(run), "--ref-faces", str(image_folder), "--samples", "8",
                      timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["stored"] for r in rows] == ["float32", "int8"]
    assert all(np.isfinite(r["fid"]) and r["gq_pct"] + r["dq_pct"] + r["pq_pct"] > 99.8 for r in rows)
    assert "pixel difference (0-255): mean " in proc.stdout
    proc = run_script("int8_quality.py", "--run", str(tmp_path), "--ref-faces", str(image_folder))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path} has no config.json and no generator.keras"]
    proc = run_script("int8_quality.py", "--run", str(run), "--ref-faces", str(image_folder), "--samples", "1")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == ["error: --samples must be at least 2, got 1"]


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_benchmark_docstring_commands_keep_their_line_breaks(script):
    # A lone backslash at a line's end inside a (non-raw) docstring joins the lines: --help then prints the
    # example command as one line with a run of spaces. Every continuation written in the source must survive.
    source = (BENCHMARKS / script).read_text()
    module = ast.parse(source)
    node, doc = module.body[0], ast.get_docstring(module, clean=False)
    if doc is None:
        pytest.skip("no module docstring")
    written = [line for line in source.splitlines()[node.lineno - 1:node.end_lineno] if line.endswith("\\")]
    printed = [line for line in doc.splitlines() if line.endswith("\\")]
    assert len(printed) == len(written), f"{script}: a docstring line ends in a single backslash; write it as \\\\"


def test_long_run_plot_draws_the_marks_of_each_reference(tmp_path):
    screen = tmp_path / "screen"
    (screen / "runs" / "sys-seed1").mkdir(parents=True)
    rows = [{"system": "sys", "seed": 1, "generator": "ema", "kimg": k, "fid": f + shift, "kid": (f + shift) / 1000,
             "kid_std": 0.001, "reference": ref} for ref, shift in (("calib", 0), ("calib+more", 1))
            for k, f in ((2, 60), (1, 90))]
    rows.append({"system": "sys", "seed": 1, "generator": "ema", "kimg": 1, "fid": 95, "kid": 0.095, "kid_std": 0.001})
    groups = long_run_plot.marks_by_reference(rows)  # a line per set of real faces, in kimg order
    assert list(groups) == ["calib", "calib+more", "its own faces"]
    assert [[r["fid"] for r in g] for g in groups.values()] == [[90, 60], [91, 61], [95]]
    (screen / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "plot.png"
    proc = run_script("long_run_plot.py", "--screen", str(screen), "--system", "sys", "--seed", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Image.open(out).size[0] > 0
    proc = run_script("long_run_plot.py", "--screen", str(screen), "--system", "other", "--seed", "1", "--out",
                      str(tmp_path / "never.png"))
    assert proc.returncode == 2 and not (tmp_path / "never.png").exists()
    assert proc.stderr.strip().splitlines() == [f"error: nothing measured for other seed 1 in {screen}"]


def test_export_picks_the_row_scored_against_the_faces_named():
    row = dict(system="sys", seed=1, kimg=2.0, generator="ema")
    rows = [dict(row, fid=60.0), dict(row, fid=59.0, reference="calib+more"), dict(row, fid=58.0, reference="calib"),
            dict(row, fid=1.0, reference="calib", seed=2), dict(row, fid=2.0, reference="calib", kimg=1.0),
            dict(row, fid=3.0, reference="calib", generator="raw")]

    def fids(*args, **kwargs):
        return [r["fid"] for r in export_pretrained.scored_rows(rows, "sys", 1, 2.0, *args, **kwargs)]

    assert fids() == [60.0, 59.0, 58.0]  # all of this point's, in the order scored: the last is the default
    assert fids("calib") == [58.0]
    assert fids("calib+more", own="calib+more") == [60.0, 59.0]  # a row naming none was scored on its own faces
    assert fids("other") == []
    rows.append(dict(row, fid=4.0, reference="calib", generator="ema88k"))  # an average kept beside the run's own
    assert fids("calib") == [58.0] and fids("calib", generator="ema88k") == [4.0]


def test_grid_spread_measures_the_first_16_faces_of_a_written_grid(tmp_path):
    from animegan_tf.data import synthetic_array
    from animegan_tf.files import image_grid, save_png

    faces = np.asarray(synthetic_array(64))
    varied, repeated = tmp_path / "varied.png", tmp_path / "repeated.png"
    save_png(image_grid(faces), varied)  # 64 faces, 8x8, as time_to_quality.py writes them
    repeated_faces = faces.copy()
    repeated_faces[:16] = faces[0]  # the first 16 cells one face, the rest varied: only the first 16 count
    save_png(image_grid(repeated_faces), repeated)
    proc = run_script("grid_spread.py", "--grids", varied, repeated)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split(": ") for line in proc.stdout.strip().splitlines())
    assert lines["repeated.png"].startswith("0.000 collapsed")
    assert float(lines["varied.png"].split()[0]) > 0.4 and lines["varied.png"].endswith("varied")

    small = tmp_path / "small.png"
    save_png(image_grid(faces[:4]), small)  # 2x2 faces
    proc = run_script("grid_spread.py", "--grids", small)
    assert proc.returncode == 2 and "fewer than 16 faces" in proc.stderr.strip().splitlines()[-1]
