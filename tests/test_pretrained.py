"""The generator shipped with the package: it loads, draws varied finite faces, and the CLI and page reach it."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from animegan_tf import runs
from animegan_tf.cli import main
from animegan_tf.config import is_preset
from animegan_tf.sampling import generate, load_generator
from animegan_tf.training import train
from animegan_tf.web.app import create_app

from conftest import blob_images, tiny_config


SHIPPED = sorted(p.name for p in runs.PRETRAINED_DIR.iterdir() if (p / "config.json").exists())


def test_the_default_is_shipped():
    assert runs.DEFAULT_PRETRAINED in SHIPPED
    assert runs.pretrained_run() == runs.PRETRAINED_DIR / runs.DEFAULT_PRETRAINED


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_generator_draws_varied_faces(name):
    folder = runs.pretrained_run(name)
    cfg = runs.load_config(folder)
    assert cfg.name == name and cfg.ema_decay > 0  # each is named by its recipe, and samples its averaged G
    made = runs.read_made(folder)
    assert made["images_shown"] >= made["scored"]["kimg"] * 1000 and np.isfinite(made["scored"]["fid"])
    # The shipped config is its preset's (its seed, and KID measured during training, aside), so `--preset NAME`
    # trains what the package ships.
    assert is_preset(cfg, cfg.name)
    images = generate(load_generator(folder), 64, seed=0)
    assert images.shape == (64, 64, 64, 3) and images.dtype == np.uint8
    # Faces differ from each other (a collapsed generator draws one image 64 times) and are not flat.
    assert images.std(axis=0).mean() > 20
    assert images.reshape(64, -1).std(axis=1).min() > 20


def test_sample_and_serve_reach_it(tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main(["sample", "--pretrained", "--n", "4", "--grid", str(grid)]) == 0
    assert Image.open(grid).size == (128, 128)
    assert main(["sample", "--pretrained", "nothing-here", "--n", "4", "--grid", str(grid)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: no pretrained generator 'nothing-here': have ")
    assert runs.DEFAULT_PRETRAINED in error[0].split(": have ")[1].split(", ")  # it names the ones there are
    with pytest.raises(SystemExit) as usage:  # argparse: --run and --pretrained exclude each other
        main(["sample", "--pretrained", "--run", str(tmp_path), "--n", "4", "--grid", str(grid)])
    assert usage.value.code == 2

    client = create_app(runs.PRETRAINED_DIR).test_client()
    name = runs.DEFAULT_PRETRAINED
    summary = next(r for r in client.get("/api/runs").get_json()["runs"] if r["name"] == name)
    made = runs.read_made(runs.pretrained_run(name))  # the page says how the shipped generator was made
    assert summary["made"]["kimg"] == made["images_shown"] / 1000 and summary["epochs_done"] == made["epoch"]
    assert summary["fid"] == round(made["scored"]["fid"], 1) and summary["judge"] == made["scored"]["judge"]
    assert summary["made"]["data"] == "anime_faces_calib + anime_faces_more"
    # the faces its row was scored against, and how its weights are stored: float32 when it ships generator.keras
    assert summary["made"]["reference"] == made["scored"]["reference"].replace("+", " + ")
    assert summary["made"]["stored"] == made.get("stored", "float32")
    assert (summary["made"]["stored"] == "float32") == (runs.pretrained_run(name) / runs.FINAL_GENERATOR).exists()
    response = client.get("/api/generate", query_string={"run": name, "n": 1, "seed": 3})
    assert response.status_code == 200
    face = np.asarray(Image.open(io.BytesIO(response.data)))
    assert face.shape[-1] == 3 and face.std() > 20


def test_export_copies_the_run_generator_exactly(tmp_path):
    run = tmp_path / "run"
    train(tiny_config(epochs=1, ema_decay=0.9), blob_images(16), run, verbose=0)
    out = runs.export_pretrained(run, tmp_path / "shipped", {"note": "test"})
    a = generate(load_generator(run), 8, seed=5)
    b = generate(load_generator(out), 8, seed=5)
    np.testing.assert_array_equal(a, b)
    assert json.loads((out / "made.json").read_text()) == {"note": "test"}
    assert not list(out.glob("*.tmp"))
    assert runs.load_config(out) == runs.load_config(run)
    # Shipped under another name (a preset's), the config is written once, as given, and still draws the same faces.
    renamed = runs.load_config(run).replace(name="shipped-name")
    out = runs.export_pretrained(run, tmp_path / "renamed", {}, config=renamed)
    assert runs.load_config(out) == renamed
    np.testing.assert_array_equal(generate(load_generator(out), 8, seed=5), a)
    with pytest.raises(FileNotFoundError, match="generator.keras"):
        runs.export_pretrained(tmp_path / "shipped" / "nothing", tmp_path / "again", {})
