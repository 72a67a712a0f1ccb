"""TensorFlow's C++ log lines stay out of what the lab prints; everything else written to stderr stays in."""

import os
import subprocess
import sys

from animegan_tf.backend import CPP_LOG_LINE, without_cpp_log_lines


def test_the_filter_drops_cpp_log_lines_and_keeps_the_rest(capfd):
    with without_cpp_log_lines():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                    b"I0000 00:00:1795860512.281038   20563 port.cc:153] oneDNN custom operations are on.\n"
                    b"a line of our own\n"
                    b"E0000 00:00:1795390156.039053   15472 cuda_platform.cc:52] failed call to cuInit\n")
        print("from Python", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a line of our own" in err and "from Python" in err
    assert "absl" not in err and "oneDNN" not in err and "cuInit" not in err
    assert not CPP_LOG_LINE.match("error: the lab's own line")


def test_training_and_sampling_print_no_tensorflow_log_lines(tmp_path):
    script = (
        "import warnings\n"
        "from animegan_tf.training import train\n"
        "from animegan_tf.sampling import generate, load_generator\n"
        "from conftest import blob_images, tiny_config\n"
        f"train(tiny_config(epochs=1), blob_images(16), {str(tmp_path / 'run')!r}, verbose=0)\n"
        f"generate(load_generator({str(tmp_path / 'run')!r}), 4)\n"
        "warnings.warn('the lab warns')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.path.dirname(__file__)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cpp = [line for line in proc.stderr.splitlines() if CPP_LOG_LINE.match(line)]
    assert cpp == [], cpp
    assert "remapper failed" not in proc.stderr and "cuInit" not in proc.stderr
    assert "UserWarning: the lab warns" in proc.stderr  # Python's warnings are not hidden
