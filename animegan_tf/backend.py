"""The one place the package imports TensorFlow and Keras: once, with TensorFlow's C++ start-up lines (the oneDNN
notice, CUDA driver probing, "All log messages before absl::InitializeLog()") filtered out of stderr.

Those lines are written by C++ straight to file descriptor 2 while `tensorflow` is imported, before its log level
applies, so they are caught at that descriptor and only they are dropped: anything else written there passes
through, and Python errors are raised as usual. Later C++ log lines (cuInit errors, grappler's "remapper failed")
are kept out by TF_CPP_MIN_LOG_LEVEL=3, set in the package's `__init__` unless you set it yourself
(`TF_CPP_MIN_LOG_LEVEL=0` shows everything again).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

CPP_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
                          r"|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] )")


@contextlib.contextmanager
def without_cpp_log_lines():
    """Run the block with file descriptor 2 caught; afterwards write back every line that is not a C++ log line."""
    sys.stderr.flush()  # in Jupyter sys.stderr is not descriptor 2, but C++ still writes there
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().decode(errors="replace").splitlines(keepends=True)
                    if not CPP_LOG_LINE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))


if "tensorflow" in sys.modules:  # imported before us: its start-up lines are already out
    import keras
    import tensorflow as tf
else:
    with without_cpp_log_lines():
        import keras
        import tensorflow as tf

__all__ = ["keras", "tf", "without_cpp_log_lines", "CPP_LOG_LINE"]
