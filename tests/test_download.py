import zipfile

import pytest
import requests

from animegan_tf.data import download as dl
from animegan_tf.cli import main


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle_config"))


@pytest.fixture
def credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle_config"))
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")


def test_short_names_resolve():
    assert dl.resolve_dataset("animefacedataset") == "splcher/animefacedataset"
    assert dl.resolve_dataset("ntumlds") == "lunarwhite/anime-face-dataset-ntumlds"
    assert dl.resolve_dataset("me/my-faces") == "me/my-faces"
    with pytest.raises(dl.DownloadError, match="OWNER/NAME"):
        dl.resolve_dataset("just-a-name")


def test_missing_credentials_exit_2_with_what_to_do(no_credentials, tmp_path, capsys):
    assert main(["download", "--dataset", "anime-faces", "--to", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kaggle.json" in err[0] and "KAGGLE_USERNAME" in err[0]
    assert not (tmp_path / "data" / "anime-faces").exists()


def test_kaggle_json_counts_as_credentials(no_credentials, tmp_path):
    config = tmp_path / "kaggle_config"
    config.mkdir()
    (config / "kaggle.json").write_text('{"username": "someone", "key": "abc"}')
    assert dl.has_credentials()


def test_unreachable_network_exit_2_and_leaves_no_partial_folder(credentials, tmp_path, monkeypatch, capsys):
    from kaggle.api.kaggle_api_extended import KaggleApi

    def offline(self, *args, **kwargs):  # the network call, the only thing mocked
        raise requests.exceptions.ConnectionError("Failed to establish a new connection")

    monkeypatch.setattr(KaggleApi, "dataset_download_files", offline)
    target = tmp_path / "data"
    assert main(["download", "--dataset", "anime-faces", "--to", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach Kaggle" in err[0]
    assert list(target.iterdir()) == []  # no half-downloaded dataset left behind


def test_download_lands_atomically_under_the_dataset_name(credentials, tmp_path, monkeypatch, capsys):
    from kaggle.api.kaggle_api_extended import KaggleApi

    seen = {}

    def fake_network(self, dataset, path=None, quiet=True, unzip=False, **kwargs):
        seen["dataset"], seen["path"] = dataset, path
        (tmp_path / "data" / "anime-faces").exists() and pytest.fail("target visible before the download ended")
        with zipfile.ZipFile(f"{path}/x.zip", "w") as zf:
            zf.writestr("data/1.png", b"png bytes")
        with zipfile.ZipFile(f"{path}/x.zip") as zf:
            zf.extractall(path)

    monkeypatch.setattr(KaggleApi, "dataset_download_files", fake_network)
    assert main(["download", "--dataset", "anime-faces", "--to", str(tmp_path / "data")]) == 0
    assert seen["dataset"] == "soumikrakshit/anime-faces"
    assert (tmp_path / "data" / "anime-faces" / "data" / "1.png").exists()
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["anime-faces"]
