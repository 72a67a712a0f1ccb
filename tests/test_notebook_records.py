"""Notebook 04 as a fresh clone runs it: no run folders, not FAST, only the records committed to the repository.
It must train nothing and show every committed record and claim."""

import html
import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from animegan_tf import records

CHECKOUT = Path(__file__).resolve().parent.parent
NOTEBOOK = CHECKOUT / "notebooks" / "04_compare_runs.ipynb"
RESULTS = CHECKOUT / "notebooks" / "results"


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts.append(data.get("text/html", "") + data.get("text/plain", ""))
    return "".join(p if isinstance(p, str) else "".join(p) for p in parts)


def test_notebook_04_shows_the_committed_records_from_a_fresh_clone(tmp_path, monkeypatch):
    for name in ("ANIMEGAN_FAST", "ANIMEGAN_DATA", "ANIMEGAN_RESULTS", "ANIMEGAN_KIMG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANIMEGAN_RUNS", str(tmp_path / "runs"))  # a fresh clone: no run folders at all
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    found = records.gather(RESULTS)
    everything = "\n".join(_text(cell) for cell in notebook.cells if cell.cell_type == "code")
    assert f"{len(found)} records in notebooks/results/" in everything
    for record in found:
        assert f"{record['notebook']}/{record['run']}" in everything
        assert f"{record['evaluation']['kid']:.4f} ± {record['evaluation']['kid_std']:.4f}" in everything
    claims = [row for path in sorted(RESULTS.glob("*/claims.json")) for row in json.loads(path.read_text())]
    for row in claims:
        assert any(form in everything for form in (row["claim"], html.escape(row["claim"]),
                                                   html.escape(row["claim"], quote=False))), row["claim"]
    assert "0 run folders under runs/" in everything
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.json"))  # trained nothing
    assert str(CHECKOUT) not in everything and str(tmp_path) not in everything  # no machine path in its outputs
