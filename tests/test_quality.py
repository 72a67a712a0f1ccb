import json
import os

import numpy as np
import pytest

from animegan_tf import quality
from conftest import blob_images


def test_tally_counts_and_prints_like_seed_003(capsys):
    result = quality.tally(["GQ"] * 3 + ["DQ"] * 7 + ["PQ"] * 10)
    assert (result["n"], result["GQ"], result["DQ"], result["PQ"]) == (20, 3, 7, 10)
    assert (result["gq_pct"], result["dq_pct"], result["pq_pct"]) == (15.0, 35.0, 50.0)
    assert capsys.readouterr().out.splitlines() == [
        "GQ Rate: 3 / 20 = 15%", "DQ Rate: 7 / 20 = 35%", "PQ Rate: 10 / 20 = 50%"]
    assert quality.tally({"0": "GQ", "4": "PQ", "7": "PQ"}, verbose=False)["pq_pct"] == pytest.approx(66.7)
    with pytest.raises(ValueError, match="XQ"):
        quality.tally(["GQ", "XQ"])


def test_every_label_is_on_disk_at_once_and_a_new_kernel_resumes(tmp_path):
    images = blob_images(6)
    store = quality.LabelStore(tmp_path, images)
    store.set(0, "GQ")
    store.set(3, "PQ")
    on_disk = json.loads((tmp_path / "labels.json").read_text())
    assert on_disk["labels"] == {"0": "GQ", "3": "PQ"}
    # A dead kernel: nothing in memory survives, the next one opens the run folder without the images.
    del store
    resumed = quality.LabelStore(tmp_path)
    assert resumed.labels == {0: "GQ", 3: "PQ"}
    assert np.array_equal(resumed.images, images)
    assert resumed.next_unlabelled() == 1
    # Other images: a fresh labelling, not someone else's labels.
    assert quality.LabelStore(tmp_path / "other", blob_images(6, seed=9)).labels == {}


def test_a_crash_while_writing_keeps_the_previous_labels(tmp_path, monkeypatch):
    store = quality.LabelStore(tmp_path, blob_images(4))
    store.set(0, "DQ")

    def dies(*args, **kwargs):
        raise OSError("killed between write and rename")

    monkeypatch.setattr(os, "replace", dies)
    with pytest.raises(OSError):
        store.set(1, "GQ")
    monkeypatch.undo()
    assert json.loads((tmp_path / "labels.json").read_text())["labels"] == {"0": "DQ"}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_widget_clicks_and_keys_save_labels(tmp_path):
    box = quality.label(blob_images(5), tmp_path)
    box.label_buttons[2].value = "DQ"  # a click
    assert json.loads((tmp_path / "labels.json").read_text())["labels"] == {"2": "DQ"}
    box.key_input.value = "gp"  # typed: labels the next unlabelled images 0 and 1
    saved = json.loads((tmp_path / "labels.json").read_text())["labels"]
    assert saved == {"0": "GQ", "1": "PQ", "2": "DQ"}
    box.key_input.value = "x"  # undo the last key
    assert json.loads((tmp_path / "labels.json").read_text())["labels"] == {"0": "GQ", "2": "DQ"}
    reopened = quality.label(None, tmp_path)
    assert [b.value for b in reopened.label_buttons] == ["GQ", None, "DQ", None, None]
    status = reopened.children[0].value  # names the run folder, not this machine's path (notebook outputs)
    assert status.endswith(f"saved to {tmp_path.name}/labels.json") and str(tmp_path.parent) not in status


def test_manifold_membership_with_known_geometry():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((200, 8))
    radii = quality.manifold_radii(ref, k=10)
    # Brute force: the 10th nearest other point.
    d = np.sqrt(((ref[:, None] - ref[None]) ** 2).sum(-1))
    assert np.allclose(radii, np.sort(d, axis=1)[:, 10])
    near = ref[:5] + 1e-3
    far = ref[:5] + 100.0
    inside = quality.on_manifold(np.vstack([near, far]), ref, radii)
    assert inside.tolist() == [True] * 5 + [False] * 5


def test_a_real_kill_inside_the_write_keeps_the_previous_labels(tmp_path):
    """SIGKILL while labels.json's temporary is written and not yet renamed (a hook on fsync says "writing" and
    waits there): the file on disk still holds every label saved before, and a new kernel resumes from them."""
    import signal
    import subprocess
    import sys

    script = (
        "import os, sys, time\n"
        "import numpy as np\n"
        "from animegan_tf import quality\n"
        "images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)\n"
        "store = quality.LabelStore(sys.argv[1], images)\n"
        "store.set(0, 'DQ')\n"
        "def stalled_fsync(fd):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "os.fsync = stalled_fsync\n"
        "store.set(1, 'GQ')\n"
        "print('renamed', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        temporaries = [p for p in tmp_path.iterdir() if p.name.startswith(".labels.json.") and p.suffix == ".tmp"]
        assert len(temporaries) == 1 and b'"1": "GQ"' in temporaries[0].read_bytes()  # the new labels, unrenamed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((tmp_path / "labels.json").read_text())["labels"] == {"0": "DQ"}
    resumed = quality.LabelStore(tmp_path)
    assert resumed.labels == {0: "DQ"}
    resumed.set(1, "GQ")
    assert json.loads((tmp_path / "labels.json").read_text())["labels"] == {"0": "DQ", "1": "GQ"}
