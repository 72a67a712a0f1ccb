"""The judge, FID/KID evaluation, the evaluate command and evaluation during training (real detector and network)."""

import json

import numpy as np
from PIL import Image, ImageFilter

from animegan_tf import quality, runs
from animegan_tf.cli import main
from animegan_tf.quality.evaluate import evaluate_images
from animegan_tf.data.synthetic import synthetic_faces
from animegan_tf.training import train
from conftest import blob_images, tiny_config


def blur(images, sigma):
    return np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(sigma))) for im in images])


def test_judge_v1_needs_both_the_detector_and_the_manifold():
    # Judge v1 (kept to recompute old rows): clean faces are found and on the manifold of their own distribution
    # (GQ); the same faces under sigma-30 noise are still found but off it (DQ); uniform noise is no face (PQ). A
    # manifold test that always said "off" would make the clean faces DQ; one that always said "on" would make the
    # noisy faces GQ; a detector that found nothing would make everything PQ.
    reference = synthetic_faces(60, seed=11)
    faces = synthetic_faces(12, seed=12)
    rng = np.random.default_rng(0)
    noisy = np.clip(faces + rng.normal(0, 30, faces.shape), 0, 255).astype(np.uint8)
    noise = rng.integers(0, 256, faces.shape, dtype=np.uint8)
    verdict = quality.judge(np.concatenate([faces, noisy, noise]), reference, version=1)
    labels = np.array(verdict["labels"])
    assert verdict["version"] == 1
    assert (labels[:12] == "GQ").sum() >= 10
    assert (labels[12:24] == "DQ").sum() >= 8 and (labels[12:24] != "PQ").all()
    assert (labels[24:] == "PQ").all()
    assert verdict["n"] == 36 and verdict["GQ"] + verdict["DQ"] + verdict["PQ"] == 36


def test_evaluate_images_reports_kid_beside_fid():
    reference = synthetic_faces(40, seed=21)
    same = evaluate_images(synthetic_faces(20, seed=22), reference, kid_subsets=10)
    noise = evaluate_images(np.random.default_rng(1).integers(0, 256, (20, 64, 64, 3), dtype=np.uint8),
                            reference, kid_subsets=10)
    assert {"kid", "kid_std", "fid", "gq_pct", "dq_pct", "pq_pct"} <= same.keys()
    assert noise["kid"] > same["kid"] + 0.1 and noise["fid"] > same["fid"]
    assert noise["pq_pct"] == 100.0


def test_evaluate_command_on_a_run_and_on_images(tmp_path, capsys):
    run = tmp_path / "run"
    cfg = tiny_config(epochs=1, eval_every=1, eval_samples=8)
    train(cfg, blob_images(16), run, verbose=0, data_source="synthetic:64")
    # Evaluation during training: one metrics line per epoch, and the best-KID checkpoint.
    records = runs.load_metrics(run)
    assert len(records) == 1 and records[0]["epoch"] == 1 and records[0]["n"] == 8
    assert (run / runs.BEST_CHECKPOINT).exists()

    assert main(["evaluate", "--run", str(run), "--n", "10"]) == 0
    out = capsys.readouterr().out
    assert "GQ" in out and "KID" in out and "FID" in out
    assert len(runs.load_metrics(run)) == 2

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, face in enumerate(synthetic_faces(6, seed=3)):
        Image.fromarray(face).save(folder / f"{i}.png")
    saved = tmp_path / "result.json"
    assert main(["evaluate", "--images", str(folder), "--ref", "synthetic:40", "--save", str(saved)]) == 0
    result = json.loads(saved.read_text())
    assert result["n"] == 6 and result["gq_pct"] + result["dq_pct"] + result["pq_pct"] == 100.0


def test_evaluate_bad_input_exits_2(tmp_path, capsys):
    assert main(["evaluate", "--images", str(tmp_path / "nope"), "--ref", "synthetic:40"]) == 2
    assert main(["evaluate", "--images", str(tmp_path)]) == 2
    assert "--ref" in capsys.readouterr().err
