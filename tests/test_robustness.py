"""Runs that survive bad settings and a second writer: --set on --resume, diverging losses, the run-folder lock."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from animegan_tf import runs
from animegan_tf.callbacks import DivergenceGuard
from animegan_tf.cli import main
from animegan_tf.sampling import build_gan, generate, load_generator
from conftest import position, tiny_config

TINY = ["--set", "image_size=16", "--set", "latent_dim=8", "--set", "g_base_filters=16", "--set", "g_filters=8",
        "--set", "d_filters=8,16", "--set", "batch_size=8", "--set", "num_samples=4", "--set", "precision=float32"]


def train_cli(image_folder, run, *extra):
    return main(["train", "--data", str(image_folder), "--out", str(run), "--quiet", *extra])


def checkpoint_learning_rates(run):
    """The learning rates the run's optimizers hold in its latest checkpoint (restored into a fresh model)."""
    gan = build_gan(runs.load_config(run))
    runs.restore_checkpoint(run, gan)
    return float(gan.g_optimizer.learning_rate.numpy()), float(gan.d_optimizer.learning_rate.numpy())


def test_set_on_resume_changes_the_rate_the_optimizer_uses(image_folder, tmp_path):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "1", *TINY) == 0
    assert np.allclose(checkpoint_learning_rates(run), (2e-4, 2e-4))
    assert train_cli(image_folder, run, "--resume", "--epochs", "2", "--set", "g_lr=1e-3", "--set", "d_lr=5e-5") == 0
    assert runs.checkpoint_meta(run)["epoch"] == 2
    assert np.allclose(checkpoint_learning_rates(run), (1e-3, 5e-5))  # what the optimizers really used
    assert runs.load_config(run).g_lr == 1e-3


def test_resume_refuses_a_field_that_cannot_change_mid_run(image_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "1", *TINY) == 0
    config_before = (run / "config.json").read_text()
    for field, value in (("latent_dim", "16"), ("batch_size", "4"), ("seed", "5"), ("d_filters", "8,32")):
        capsys.readouterr()
        assert train_cli(image_folder, run, "--resume", "--epochs", "2", "--set", f"{field}={value}") == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{field} cannot change when resuming" in err
    assert (run / "config.json").read_text() == config_before
    assert runs.checkpoint_meta(run)["epoch"] == 1


def test_an_exploding_learning_rate_stops_cleanly_and_keeps_the_last_good_state(image_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "1", *TINY) == 0
    (run / "generator.keras").unlink()  # so that writing a new one would show
    good = np.load(run / runs.CHECKPOINT)
    capsys.readouterr()
    code = train_cli(image_folder, run, "--resume", "--epochs", "6", "--set", "g_lr=1e30", "--set", "d_lr=1e30")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "training diverged at epoch 2" in err[0] and "still epoch 1" in err[0]
    after = np.load(run / runs.CHECKPOINT)
    assert sorted(after.files) == sorted(good.files)
    assert all(np.array_equal(after[k], good[k]) for k in good.files)  # the good checkpoint is untouched
    assert runs.checkpoint_meta(run)["epoch"] == 1
    assert not (run / "generator.keras").exists()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_0001.png"]
    g = load_generator(run)  # the kept state still draws finite, non-constant images
    out = np.asarray(g(np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32), training=False))
    assert np.isfinite(out).all() and out.std() > 0
    # --resume at a sane rate carries on from the kept state.
    assert train_cli(image_folder, run, "--resume", "--epochs", "2", "--set", "g_lr=2e-4", "--set", "d_lr=2e-4") == 0
    assert runs.checkpoint_meta(run)["epoch"] == 2


def test_a_non_finite_loss_with_finite_weights_is_not_divergence():
    # Under mixed_float16 the loss scaler skips a step whose loss overflowed: the weights stay finite.
    gan = build_gan(tiny_config())
    guard = DivergenceGuard()
    guard.set_model(gan)
    guard.on_train_batch_end(0, {"g_loss": float("inf"), "d_loss": 1.0})
    assert not gan.stop_training and not gan.diverged
    gan.generator.weights[0].assign(np.full(gan.generator.weights[0].shape, np.nan, np.float32))
    guard.on_train_batch_end(1, {"g_loss": float("nan"), "d_loss": float("nan")})
    assert gan.stop_training and gan.diverged and guard.where[1] == 2


def test_one_writer_per_run_folder_and_a_killed_writer_does_not_block(image_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "1", *TINY) == 0
    holder = subprocess.Popen(  # another process training this folder: it takes the lock and keeps it
        [sys.executable, "-c", "import sys, time; from animegan_tf import runs\n"
         "with runs.training_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(600)", str(run)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        capsys.readouterr()
        assert train_cli(image_folder, run, "--resume", "--epochs", "2") == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"pid {holder.pid}" in err
        assert runs.checkpoint_meta(run)["epoch"] == 1
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert train_cli(image_folder, run, "--resume", "--epochs", "2") == 0  # the lock died with its holder
    assert runs.checkpoint_meta(run)["epoch"] == 2


def tensorboard_events(folder):
    """{tag: [steps]} of every summary in the event files under folder (read with TensorFlow itself)."""
    import tensorflow as tf

    tags = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


def test_tensorboard_logs_losses_and_sample_grids(image_folder, tmp_path):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "2", *TINY, "--tensorboard") == 0
    assert runs.load_config(run).tensorboard
    losses = tensorboard_events(run / "tb" / "train")
    assert sorted(losses["epoch_g_loss"]) == sorted(losses["epoch_d_loss"]) == [0, 1]
    assert "epoch_learning_rate" not in losses  # was the 1e-3 of an RMSprop the GAN never used
    assert tensorboard_events(run / "tb" / "samples")["samples"] == [1, 2]
    plain = tmp_path / "plain"
    assert train_cli(image_folder, plain, "--epochs", "1", *TINY) == 0
    assert not (plain / "tb").exists()


def test_sigkill_at_several_moments_then_resume_gives_one_history_row_per_epoch(tmp_path):
    """A real `train` process killed with SIGKILL at several moments (during steps, grids, plots, checkpoints and
    history rows, wherever the delay lands), resumed after each kill, ends with one row per epoch and a loadable run."""
    run, epochs = tmp_path / "run", 40
    base = [sys.executable, "-m", "animegan_tf", "train", "--data", "synthetic:48", "--out", str(run), "--quiet"]
    first = [*base, "--epochs", str(epochs), *TINY]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rng = np.random.default_rng(0)
    kills = 0
    for attempt in range(4):
        cmd = first if runs.checkpoint_meta(run) is None else [*base, "--resume"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        wanted, seen = int(rng.integers(2, 5)), 0  # kill a moment after its 2nd-4th epoch began
        for line in proc.stdout:
            seen += line.startswith("Epoch")
            if seen == wanted:
                break
        time.sleep(float(rng.uniform(0.0, 0.6)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3  # the run really was interrupted
    assert runs.checkpoint_meta(run)["epoch"] >= 3
    done = subprocess.run([*base, "--resume"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-500:]
    assert position(runs.checkpoint_meta(run)) == (epochs, 0)
    assert runs.load_history(run)["epoch"] == list(range(epochs))
    lines = (run / "history.csv").read_text().splitlines()
    assert len(lines) == epochs + 1 and lines[0].startswith("epoch")  # one header, one row per epoch
    assert (run / "generator.keras").exists()
    images = generate(load_generator(run), 4, seed=0)
    assert images.shape == (4, 16, 16, 3)
    # ... and the state it ends in is the one an uninterrupted run ends in, array for array.
    whole = tmp_path / "whole"
    uninterrupted = [*base[:-3], "--out", str(whole), "--quiet", "--epochs", str(epochs), *TINY]
    assert subprocess.run(uninterrupted, capture_output=True, env=env).returncode == 0
    with np.load(run / runs.CHECKPOINT) as killed, np.load(whole / runs.CHECKPOINT) as straight:
        keys = [k for k in straight.files if k != "meta"]
        assert sorted(keys) == sorted(k for k in killed.files if k != "meta")
        for key in keys:
            np.testing.assert_array_equal(killed[key], straight[key], err_msg=key)


def test_a_mid_epoch_stop_and_a_cut_history_line_leave_one_row_per_epoch(tmp_path):
    from animegan_tf.training import train
    from conftest import blob_images

    run, images, cfg = tmp_path / "run", blob_images(32), tiny_config(epochs=3)
    train(cfg, images, run, max_minutes=1e-9, verbose=0)  # stops after one step: Keras logs that partial epoch 0
    meta = runs.checkpoint_meta(run)
    assert (meta["epoch"], meta["step_in_epoch"]) == (0, 1)
    with (run / "history.csv").open("a") as f:
        f.write("1,0.5,0.")  # a row cut short by a killed writer
    train(cfg.replace(epochs=2), images, run, resume=True, verbose=0)
    assert runs.load_history(run)["epoch"] == [0, 1]
    train(cfg, images, run, resume=True, verbose=0)
    lines = (run / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch", "0", "1", "2"]


def test_checkpoints_keep_two_previous_states(image_folder, tmp_path):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "3", *TINY) == 0
    epochs = [runs._read_meta(run / path)["epoch"] for path in (runs.CHECKPOINT, *runs.PREVIOUS_CHECKPOINTS)]
    assert epochs == [3, 2, 1]


def test_a_truncated_latest_checkpoint_falls_back_to_the_previous_state(image_folder, tmp_path):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "3", *TINY) == 0
    latest = run / runs.CHECKPOINT
    damaged_bytes = latest.read_bytes()[: latest.stat().st_size // 2]
    latest.write_bytes(damaged_bytes)  # a disk that filled up, a copy cut short
    with pytest.warns(UserWarning) as warned:
        assert train_cli(image_folder, run, "--resume", "--epochs", "4") == 0
    said = [str(w.message) for w in warned if "unreadable checkpoint" in str(w.message)]
    assert len(said) == 1 and "unreadable checkpoint (latest.npz: BadZipFile)" in said[0]
    assert "using previous_1.npz (epoch 2" in said[0]
    kept = list((run / "checkpoints").glob("latest.damaged-*.npz"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged_bytes  # never deleted
    assert runs.checkpoint_meta(run)["epoch"] == 4
    assert runs.load_history(run)["epoch"] == [0, 1, 2, 3]  # epoch 3 trained again, its old row replaced


def test_no_readable_checkpoint_exits_2_and_touches_nothing(image_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(image_folder, run, "--epochs", "2", *TINY) == 0
    files = [run / runs.CHECKPOINT, run / runs.PREVIOUS_CHECKPOINTS[0]]
    for path in files:
        path.write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert train_cli(image_folder, run, "--resume", "--epochs", "3") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no readable checkpoint")
    assert all(path.read_bytes() == b"not a checkpoint" for path in files)
    assert main(["sample", "--run", str(run), "--n", "2", "--grid", str(tmp_path / "g.png")]) == 2


def test_a_cpu_budget_is_the_runs_whole_budget_across_resumes(tmp_path, image_folder, capsys):
    from animegan_tf.training import train
    from conftest import blob_images

    run, images, cfg = tmp_path / "run", blob_images(32), tiny_config(epochs=50)
    train(cfg, images, run, cpu_minutes=1e-9, verbose=0)  # spent after the first step
    first = runs.checkpoint_meta(run)
    assert (first["epoch"], first["step_in_epoch"]) == (0, 1)
    assert first["train_cpu_seconds"] > 0 and first["train_seconds"] > 0

    train(cfg, images, run, resume=True, cpu_minutes=1e-9, verbose=0)  # the same run's budget: already spent
    assert runs.checkpoint_meta(run) == first

    more = (first["train_cpu_seconds"] + 1.0) / 60  # one more CPU-second for the run as a whole
    train(cfg, images, run, resume=True, cpu_minutes=more, verbose=0)
    second = runs.checkpoint_meta(run)
    assert (second["epoch"], second["step_in_epoch"]) > (0, 1) and second["epoch"] < 50
    assert more * 60 <= second["train_cpu_seconds"] < more * 60 + 30  # counted from the first process's time
    assert second["train_seconds"] > first["train_seconds"]
    assert runs.runs_table([run])["cpu_min"][0] == round(second["train_cpu_seconds"] / 60, 1)

    capsys.readouterr()
    assert train_cli(image_folder, tmp_path / "cli", "--cpu-minutes", "0", *TINY) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--cpu-minutes must be a positive number" in err
    assert not (tmp_path / "cli").exists()


def test_sigkill_while_checkpoints_are_being_written_never_leaves_an_unreadable_latest(tmp_path):
    """A real process that does nothing but write checkpoints of a full-width model (several MB each), killed with
    SIGKILL at random moments (inside a write or between writes: the next test makes sure of the former): every
    time, latest.npz is readable, holds a complete state, and no more than two previous states and no stray files
    but the temporary one remain."""
    run = tmp_path / "run"
    script = (
        "import sys\n"
        "from animegan_tf import runs\n"
        "from animegan_tf.config import preset\n"
        "from animegan_tf.sampling import build_gan\n"
        "cfg = preset('dcgan').replace(precision='float32')\n"
        f"run = {str(run)!r}\n"
        "runs.write_config(run, cfg)\n"
        "gan = build_gan(cfg)\n"
        "gan.build_optimizers()\n"
        "epoch = 1\n"
        "runs.save_checkpoint(run, gan, epoch=epoch)\n"
        "print('ready', flush=True)  # a checkpoint exists before any kill can land\n"
        "while True:\n"
        "    epoch += 1\n"
        "    runs.save_checkpoint(run, gan, epoch=epoch)\n"
    )
    rng = np.random.default_rng(1)
    epochs_seen = []
    for attempt in range(5):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()[-500:]
        time.sleep(float(rng.uniform(0.3, 2.0)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        found = runs.readable_checkpoint(run)
        assert found is not None and found[0] == run / runs.CHECKPOINT  # the latest itself, no fallback needed
        epochs_seen.append(found[1]["epoch"])
        gan = build_gan(runs.load_config(run))
        gan.build_optimizers()
        runs.restore_checkpoint(run, gan)  # every variable of the state comes back
        names = {p.name for p in (run / "checkpoints").iterdir()}
        states = {"latest.npz", "previous_1.npz", "previous_2.npz"}
        assert "latest.npz" in names and all(n in states or n.endswith(".tmp") for n in names), names
    assert max(epochs_seen) >= 2  # the kills landed after several writes
    for name in (".latest.npz.k1ll3d.tmp", "previous_1.npz.tmp"):  # what a kill inside a write leaves
        (run / "checkpoints" / name).write_bytes(b"half a checkpoint")
    (run / ".losses.png.x1.tmp").write_bytes(b"half a plot")
    with runs.training_lock(run):  # what train does first: a killed writer's temporaries go
        pass
    assert not (run / ".losses.png.x1.tmp").exists()
    assert {p.name for p in (run / "checkpoints").iterdir()} <= states


def test_sigkill_inside_a_checkpoint_write_keeps_the_state_before_it(tmp_path):
    """The kill lands inside a write, for certain: a hook on fsync says which write it is in and waits there, with
    the new checkpoint's temporary file written and not yet renamed. latest.npz is then the state of the write
    before, whole, and a fresh model restores every variable from it."""
    run = tmp_path / "run"
    script = (
        "import os, sys, time\n"
        "from animegan_tf import runs\n"
        "from animegan_tf.sampling import build_gan\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from conftest import tiny_config\n"
        "run, stall_at = sys.argv[1], int(sys.argv[3])\n"
        "cfg = tiny_config()\n"
        "runs.write_config(run, cfg)\n"
        "gan = build_gan(cfg)\n"
        "gan.build_optimizers()\n"
        "real_fsync, epoch = os.fsync, 0\n"
        "def fsync(fd):\n"
        "    if epoch == stall_at:\n"
        "        print(f'writing {epoch}', flush=True)\n"
        "        time.sleep(60)\n"
        "    real_fsync(fd)\n"
        "os.fsync = fsync\n"
        "while True:\n"
        "    epoch += 1\n"
        "    gan.generator.weights[0].assign(gan.generator.weights[0] + 1.0)  # each state differs\n"
        "    runs.save_checkpoint(run, gan, epoch=epoch)\n"
    )
    tests_dir = str(Path(__file__).resolve().parent)
    for stall_at in (2, 4):
        if run.exists():
            shutil.rmtree(run)
        proc = subprocess.Popen([sys.executable, "-c", script, str(run), tests_dir, str(stall_at)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == f"writing {stall_at}", proc.stderr.read()[-500:]
            temporaries = [p.name for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
            assert len(temporaries) == 1 and temporaries[0].startswith(".latest.npz.")  # inside the write
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        found = runs.readable_checkpoint(run)
        assert found[0] == run / runs.CHECKPOINT and found[1]["epoch"] == stall_at - 1
        gan = build_gan(runs.load_config(run))
        gan.build_optimizers()
        runs.restore_checkpoint(run, gan)
        with np.load(run / runs.CHECKPOINT) as state:
            key = runs.variable_keys("generator", gan.generator.weights)[0]
            np.testing.assert_array_equal(gan.generator.weights[0].numpy(), state[key])
