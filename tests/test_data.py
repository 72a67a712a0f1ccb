import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from animegan_tf import data, records
from animegan_tf.cli import main
from animegan_tf.training import train
from conftest import blob_images, tiny_config


def png_claiming_size(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height: Pillow's decompression-bomb check fires on open."""
    raw = zlib.compress(b"\x00" * 4)
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def write_mixed_folder(folder):
    """Good images in every supported format and mode, plus every kind of bad file. Returns (good, bad) counts."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = blob_images(12, size=40, seed=5)
    good = {
        "a.jpg": Image.fromarray(arrays[0]),
        "b.png": Image.fromarray(arrays[1]).convert("L"),
        "c.png": Image.fromarray(arrays[2]).convert("LA"),
        "d.png": Image.fromarray(arrays[3]).convert("P"),
        "e.png": Image.fromarray(np.dstack([arrays[4], np.full((40, 40), 128, np.uint8)])),
        "f.jpg": Image.fromarray(arrays[5]).convert("CMYK"),
        "g.bmp": Image.fromarray(arrays[6]),
        "h.webp": Image.fromarray(arrays[7]),
        "sub/i.png": Image.fromarray((arrays[8][..., 0].astype(np.uint16) * 257)).convert("I;16"),
        "sub/deeper/j.jpg": Image.fromarray(arrays[9]).resize((60, 40)),  # not square: centre-cropped
    }
    for name, img in good.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        img.save(folder / name)
    frames = [Image.fromarray(arrays[10]), Image.fromarray(arrays[11])]
    frames[0].save(folder / "k.gif", save_all=True, append_images=frames[1:])

    jpeg = (folder / "a.jpg").read_bytes()
    bad = {
        "corrupt.jpg": b"\xff\xd8\xff" + bytes(range(256)) * 4,
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "empty.png": b"",
        "notes.png": b"these are my notes, not an image",
        "bomb.png": png_claiming_size(30_000, 30_000),
    }
    for name, payload in bad.items():
        (folder / name).write_bytes(payload)
    Image.fromarray(arrays[0][:10, :10]).save(folder / "tiny.png")  # 10x10: smaller than 16 px
    (folder / "labels.csv").write_text("file,label\n")  # not an image type
    return len(good) + 1, len(bad) + 2


def test_ingest_converts_every_format_and_skips_every_bad_file(tmp_path):
    n_good, n_bad = write_mixed_folder(tmp_path / "mixed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, report = data.ingest(tmp_path / "mixed", image_size=32, cache_dir=tmp_path / "cache")
    assert images.shape == (n_good, 32, 32, 3) and images.dtype == np.uint8
    assert report.used == n_good and len(report.skipped) == n_bad
    skipped = {name for name, _ in report.skipped}
    assert skipped == {"corrupt.jpg", "truncated.jpg", "empty.png", "notes.png", "bomb.png", "tiny.png", "labels.csv"}
    messages = [str(w.message) for w in caught if "skipped" in str(w.message)]
    assert len(messages) == 1 and messages[0].startswith(f"skipped {n_bad} unusable file(s)")
    reasons = dict(report.skipped)
    assert "DecompressionBomb" in reasons["bomb.png"]
    assert "16 px" in reasons["tiny.png"]


def test_rgba_is_composited_on_white_and_16_bit_is_rescaled(tmp_path):
    folder = tmp_path / "modes"
    folder.mkdir()
    Image.new("RGBA", (20, 20), (255, 0, 0, 0)).save(folder / "clear.png")  # fully transparent red
    Image.fromarray(np.full((20, 20), 65535, np.uint16)).convert("I;16").save(folder / "white16.png")
    images, _ = data.ingest(folder, image_size=16, cache_dir=tmp_path / "cache")
    assert (images == 255).all()  # transparent -> white background; 65535 -> 255


def test_bad_folder_trains_one_epoch_with_the_exact_skip_count(tmp_path, capsys):
    n_good, n_bad = write_mixed_folder(tmp_path / "mixed")
    run = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["train", "--data", str(tmp_path / "mixed"), "--out", str(run), "--epochs", "1", "--quiet",
                     "--set", "image_size=16", "--set", "g_filters=8", "--set", "d_filters=8,16",
                     "--set", "g_base_filters=16", "--set", "latent_dim=8", "--set", "batch_size=4",
                     "--set", "num_samples=4", "--set", "precision=float32"])
    assert code == 0
    assert any(str(w.message).startswith(f"skipped {n_bad} unusable") for w in caught)
    assert f"data: {n_good} images" in capsys.readouterr().out
    assert (run / "checkpoints" / "latest.npz").exists()


def test_empty_folder_and_folder_without_usable_images_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r1")]) == 2
    assert str(tmp_path / "empty") in capsys.readouterr().err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.jpg").write_bytes(b"nope")
    assert main(["train", "--data", str(tmp_path / "junk"), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert "no usable image" in err and str(tmp_path / "junk") in err


def test_zip_ingestion_and_bad_zips(tmp_path, capsys):
    folder = tmp_path / "mixed"
    n_good, n_bad = write_mixed_folder(folder)
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"faces/{path.relative_to(folder)}")
    images, report = data.ingest(archive, image_size=16, cache_dir=tmp_path / "cache")
    assert len(images) == n_good and len(report.skipped) == n_bad

    empty_zip = tmp_path / "empty.zip"
    zipfile.ZipFile(empty_zip, "w").close()
    assert main(["train", "--data", str(empty_zip), "--out", str(tmp_path / "r")]) == 2
    assert "empty.zip" in capsys.readouterr().err
    not_zip = tmp_path / "fake.zip"
    not_zip.write_bytes(b"PK but not really")
    assert main(["train", "--data", str(not_zip), "--out", str(tmp_path / "r")]) == 2


def test_cache_is_reused_and_invalidated_when_a_file_changes(tmp_path, image_folder):
    cache = tmp_path / "cache"
    first, r1 = data.ingest(image_folder, image_size=16, cache_dir=cache)
    again, r2 = data.ingest(image_folder, image_size=16, cache_dir=cache)
    assert not r1.from_cache and r2.from_cache
    assert np.array_equal(first, again)
    # Replace one image with a different picture: a new cache entry, new pixels.
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(image_folder / "img_01.png")
    changed, r3 = data.ingest(image_folder, image_size=16, cache_dir=cache)
    assert not r3.from_cache
    assert not np.array_equal(first, changed) and len(changed) == len(first)
    # Adding a file also invalidates.
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(image_folder / "extra.png")
    more, r4 = data.ingest(image_folder, image_size=16, cache_dir=cache)
    assert not r4.from_cache and len(more) == len(first) + 1


def test_each_epoch_is_a_permutation_that_depends_only_on_seed_and_epoch():
    images = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * np.ones((1, 2, 2, 3), np.uint8)
    def epoch_values(initial_epoch, epochs, seed=0):
        ds = data.make_dataset(images, batch_size=4, epochs=epochs, seed=seed, initial_epoch=initial_epoch)
        return [np.round((b.numpy()[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist() for b in ds]
    straight = epoch_values(0, 3)
    assert len(straight) == 9
    for e in range(3):
        batch_values = sorted(v for b in straight[3 * e: 3 * e + 3] for v in b)
        assert batch_values == list(range(12))  # every image exactly once per epoch
    assert epoch_values(2, 3) == straight[6:]  # resuming at epoch 2 sees epoch 2's batches
    assert straight[:3] != straight[3:6]  # a new order every epoch
    assert epoch_values(0, 1, seed=1) != straight[:3]


def test_array_slices_are_in_order():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1) * np.ones((1, 2, 2, 3), np.uint8)
    slices = data.array_slices(images, batch_size=4)
    assert len(slices) == 2
    (second,) = slices[1]
    assert np.allclose((second[:, 0, 0, 0] + 1) * 127.5, [4, 5, 6, 7])


def test_fewer_images_than_a_batch_is_a_data_error(tmp_path):
    with pytest.raises(data.DataError, match="fewer than one batch"):
        train(tiny_config(batch_size=64), blob_images(10), tmp_path / "r", verbose=0)


def test_several_sources_separated_by_commas_are_one_set(tmp_path, image_folder, capsys):
    one = data.load_array(str(image_folder), 16)
    both = data.load_array(f"{image_folder},synthetic:5", 16)
    assert len(both) == len(one) + 5
    np.testing.assert_array_equal(both[:len(one)], one)
    np.testing.assert_array_equal(both[len(one):], data.load_array("synthetic:5", 16))
    missing = tmp_path / "nowhere"
    assert main(["train", "--data", f"{image_folder},{missing}", "--out", str(tmp_path / "r")]) == 2
    assert f"data path not found: {missing}" in capsys.readouterr().err
    assert main(["train", "--data", " , ", "--out", str(tmp_path / "r")]) == 2
    assert "data path names nothing" in capsys.readouterr().err


def test_a_data_value_names_its_sources_without_this_machines_paths(tmp_path, image_folder):
    comma = tmp_path / "faces,2024"  # an existing folder whose name holds a comma is one source
    comma.mkdir()
    assert data.data_sources(f" {image_folder} , synthetic:5 ,") == [str(image_folder), "synthetic:5"]
    assert data.data_sources(comma) == [str(comma)] and data.data_sources("") == []
    assert [data.source_name(s) for s in ("synthetic", "synthetic:5", f"{comma}/", "../shared/calib")] == [
        "synthetic", "synthetic:5", "faces,2024", "calib"]
    assert not data.is_synthetic("synthetic_faces")  # a folder that only starts with the word is a path
    for nothing in (",", " , "):
        with pytest.raises(data.DataError, match="names no folder"):
            data.load_array(nothing)
    assert records.data_id("../shared/anime_faces_calib", 4529) == {"name": "anime_faces_calib", "images": 4529}
    data_id = records.data_id(f"{image_folder},synthetic:5", 37)
    assert data_id == {"name": f"{image_folder.name},synthetic:5", "images": 37}
