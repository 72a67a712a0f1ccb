"""Download the Kaggle anime face sets with the `kaggle` client, atomically.

The dataset is downloaded and unpacked into a temporary folder beside the target and renamed at the end, so an
interrupted download never looks like a dataset. Missing credentials and an unreachable network are reported as
one line saying what to do (the CLI exits 2), never as a traceback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

KNOWN_DATASETS = {
    "animefacedataset": "splcher/animefacedataset",  # ~63k faces, various sizes
    "anime-faces": "soumikrakshit/anime-faces",  # ~21.5k faces, 64x64
    "ntumlds": "lunarwhite/anime-face-dataset-ntumlds",  # 36.7k faces (seed 001's set)
}

CREDENTIALS_HELP = ("no Kaggle credentials: create a token at https://www.kaggle.com/settings/api and save it as "
                    "~/.kaggle/kaggle.json (or export KAGGLE_USERNAME and KAGGLE_KEY), then run this again")


class DownloadError(RuntimeError):
    """The download cannot go ahead; the message says what to do."""


def resolve_dataset(name: str) -> str:
    """A short name or OWNER/NAME -> OWNER/NAME."""
    if name in KNOWN_DATASETS:
        return KNOWN_DATASETS[name]
    owner, sep, slug = name.partition("/")
    if not sep or not owner or not slug or "/" in slug:
        raise DownloadError(f"--dataset {name!r}: give OWNER/NAME or one of {', '.join(KNOWN_DATASETS)}")
    return name


def _config_dirs() -> list[Path]:
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return [Path(os.environ["KAGGLE_CONFIG_DIR"])]
    home = Path.home()
    return [home / ".kaggle", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]


def has_credentials() -> bool:
    """Whether the kaggle client will find credentials (checked without any network call)."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    if os.environ.get("KAGGLE_API_TOKEN"):
        return True
    return any((d / "kaggle.json").is_file() or (d / "access_token").is_file() for d in _config_dirs())


def download(dataset: str, to: str | os.PathLike, force: bool = False) -> Path:
    """Download and unpack `dataset` into `to/<name>/`; returns that folder.

    Raises DownloadError with a one-line message when credentials are missing, the network is unreachable or
    Kaggle refuses the request.
    """
    ref = resolve_dataset(dataset)
    target = Path(to) / ref.split("/")[1]
    if target.exists() and not force:
        return target
    if not has_credentials():
        raise DownloadError(CREDENTIALS_HELP)

    from kaggle.api.kaggle_api_extended import KaggleApi

    Path(to).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=to))
    try:
        api = KaggleApi()
        try:
            api.authenticate()
            api.dataset_download_files(ref, path=str(staging), quiet=False, unzip=True)
        except SystemExit:  # the kaggle client exits when it finds no usable credentials
            raise DownloadError(CREDENTIALS_HELP) from None
        except OSError as exc:  # requests' ConnectionError and timeouts are OSErrors
            raise DownloadError(f"cannot reach Kaggle ({type(exc).__name__}): check the network connection, "
                                f"or download {ref} by hand and pass its folder or zip to --data") from None
        except Exception as exc:  # noqa: BLE001 - HTTP errors from the client: 401, 403, 404
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (401, 403):
                raise DownloadError(f"Kaggle refused the request for {ref} (HTTP {status}): check your API token, "
                                    f"and accept the dataset's rules on its Kaggle page") from None
            if status == 404:
                raise DownloadError(f"no such Kaggle dataset: {ref}") from None
            raise DownloadError(f"download of {ref} failed: {type(exc).__name__}: {exc}") from None
        if force and target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
