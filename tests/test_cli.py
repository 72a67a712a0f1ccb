import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from animegan_tf.cli import main

TINY = ["--set", "image_size=16", "--set", "g_filters=8", "--set", "d_filters=8,16", "--set", "g_base_filters=16",
        "--set", "latent_dim=8", "--set", "batch_size=8", "--set", "num_samples=4", "--set", "precision=float32"]


def run_cli(*args):
    """The real entry point in a fresh interpreter: exit code and stderr."""
    proc = subprocess.run([sys.executable, "-m", "animegan_tf", *args], capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_presets_lists_every_preset():
    code, out, err = run_cli("presets")
    assert code == 0, err
    for name in ("dcgan", "scenario1", "scenario1-lr1e-4", "scenario2-fig1", "scenario2-fig5"):
        assert name in out


@pytest.mark.parametrize("args, message", [
    (["train", "--preset", "nope", "--data", "synthetic", "--out", "X"], "unknown preset"),
    (["train", "--data", "/no/such/folder", "--out", "X"], "data path not found"),
    (["train", "--data", "synthetic", "--out", "X", "--set", "g_lr=-1"], "g_lr"),
    (["train", "--data", "synthetic", "--out", "X", "--set", "bogus=1"], "bogus"),
    (["train", "--data", "synthetic", "--out", "X", "--set", "batch_size"], "key=value"),
    (["sample", "--run", "/no/such/run", "--n", "2", "--out", "Y"], "not a run folder"),
])
def test_bad_input_exits_2_with_one_line(args, message, capsys, tmp_path):
    args = [str(tmp_path / a) if a in ("X", "Y") else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_input_through_the_real_entry_point(tmp_path):
    code, _, err = run_cli("train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run"))
    assert code == 2
    assert err.strip().splitlines() == [f"error: data path not found: {tmp_path / 'missing'}"]


def test_train_then_sample(image_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(image_folder), "--out", str(run), "--epochs", "1", "--quiet", *TINY]) == 0
    for name in ("config.json", "history.csv", "losses.png", "fixed_z.npy", "generator.keras",
                 "samples/epoch_0001.png", "checkpoints/latest.npz"):
        assert (run / name).exists(), name
    # A second train into the same folder without --resume is refused, the run kept.
    assert main(["train", "--data", str(image_folder), "--out", str(run), "--epochs", "1", *TINY]) == 2
    assert "--resume" in capsys.readouterr().err

    out, grid = tmp_path / "samples", tmp_path / "grid.png"
    assert main(["sample", "--run", str(run), "--n", "5", "--out", str(out), "--grid", str(grid), "--seed", "3"]) == 0
    files = sorted(out.glob("*.png"))
    assert len(files) == 5
    first = np.asarray(Image.open(files[0]))
    assert first.shape == (16, 16, 3) and first.dtype == np.uint8
    assert Image.open(grid).size == (48, 32)  # 5 images on a 3-column grid

    # Same seed, same images; another seed, other images.
    again = tmp_path / "again"
    main(["sample", "--run", str(run), "--n", "5", "--out", str(again), "--seed", "3"])
    assert np.array_equal(np.asarray(Image.open(again / files[0].name)), first)


def test_resume_extends_a_finished_run(image_folder, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", str(image_folder), "--out", str(run), "--epochs", "1", "--quiet", *TINY]) == 0
    assert main(["train", "--data", str(image_folder), "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert (run / "samples" / "epoch_0002.png").exists()
    assert main(["train", "--data", str(image_folder), "--out", str(tmp_path / "new"), "--resume"]) == 2
