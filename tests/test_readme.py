"""The README's Python usage is executed as written (in a temporary folder)."""

import re
from pathlib import Path

import numpy as np

from animegan_tf import records

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_block_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    faces = namespace["faces"]
    assert faces.shape == (16, 64, 64, 3) and faces.dtype == np.uint8
    assert (tmp_path / "runs" / "readme-example" / "generator.keras").exists()


def test_the_readme_results_table_is_the_one_the_committed_records_make():
    text = README.read_text()
    root = README.parent / "notebooks" / "results"
    assert text == records.readme_with_table(text, records.gather(root)), (
        "README's results table differs from notebooks/results: run `python -m animegan_tf.records README.md`")
