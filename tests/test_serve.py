"""The web page: its API through Flask's test client, the real `serve` command, and the page in headless Chromium.

One tiny 64x64 run is trained once for the module (1 epoch, 4 steps); the other runs are copies of it, altered.
Set ANIMEGAN_SERVE_SCREENSHOT=docs/serve.png to keep the browser test's screenshot (the README shows it).
"""

import base64
import io
import json
import os
import selectors
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animegan_tf import runs
from animegan_tf.cli import main
from animegan_tf.files import image_grid
from animegan_tf.sampling import generate, load_generator
from animegan_tf.training import train
from animegan_tf.web.app import create_app, public_host_warning, slerp
from conftest import blob_images, tiny_config

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """faces: averaged + raw generators, one metrics line; plain: no average; damaged: a truncated checkpoint;
    no-weights: a config and nothing else; not-a-run: no config; escape: a symlink to a run outside the folder."""
    root = tmp_path_factory.mktemp("serve")
    folder = root / "runs"
    faces = folder / "faces"
    # Glorot init and fast BatchNorm statistics, so 4 steps already give faces that differ by seed (with the
    # presets' 0.02 init and momentum 0.9 every face would still be the same grey), and a short average.
    cfg = tiny_config(image_size=64, g_filters=(8, 8, 8), d_filters=(8, 8, 16, 16), epochs=1, init="default",
                      g_bn_momentum=0.1, ema_decay=0.5)
    train(cfg, blob_images(32, size=64), faces, verbose=0)
    runs.append_metrics(faces, {"epoch": 1, "kid": 0.5, "fid": float("nan"), "gq_pct": 10.0, "dq_pct": 40.0,
                                "pq_pct": 50.0})

    shutil.copytree(faces, folder / "plain")
    runs.write_config(folder / "plain", cfg.replace(ema_decay=0.0))

    damaged = folder / "damaged"
    shutil.copytree(faces, damaged)
    ckpt = damaged / runs.CHECKPOINT
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    for name in (runs.FINAL_GENERATOR, runs.FINAL_RAW_GENERATOR):
        (damaged / name).unlink()

    (folder / "no-weights").mkdir()
    shutil.copy(faces / "config.json", folder / "no-weights")
    (folder / "not-a-run").mkdir()
    shutil.copytree(faces, root / "outside" / "run")
    (folder / "escape").symlink_to(root / "outside" / "run")
    (root / "secret.txt").write_text("not for the page")
    return folder


@pytest.fixture(scope="module")
def client(runs_dir):
    return create_app(runs_dir, default_run="faces").test_client()


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def get_png(client, path, **params):
    response = client.get(path, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/png"
    return response.data


def strict_json(text: str):
    """JSON as a browser reads it: NaN and Infinity are errors."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------------------------------------------------------
# The API, through Flask's test client
# ---------------------------------------------------------------------------------------------------------------

def test_runs_list_summaries_and_flags_damaged_folders(client):
    response = client.get("/api/runs")
    assert response.status_code == 200
    data = strict_json(response.get_data(as_text=True))
    by_name = {run["name"]: run for run in data["runs"]}
    assert set(by_name) == {"damaged", "faces", "no-weights", "plain"}  # no 'not-a-run', no 'escape'
    assert data["default"] == "faces"
    faces = by_name["faces"]
    assert (faces["image_size"], faces["latent_dim"], faces["epochs_done"]) == (64, 8, 1)
    assert faces["averaged"] is True and by_name["plain"]["averaged"] is False
    assert (faces["kid"], faces["gq_pct"], faces["metrics_epoch"]) == (0.5, 10.0, 1)
    assert faces["fid"] is None  # NaN in metrics.jsonl
    assert "error" in by_name["damaged"] and "error" not in faces


def test_page_is_served(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for element in ('id="run"', 'id="generate"', 'id="t"', 'id="raw"', 'id="best"'):
        assert element in page


def test_same_request_same_png_bytes(client):
    first = get_png(client, "/api/generate", run="faces", n=5, seed=11)
    assert get_png(client, "/api/generate", run="faces", n=5, seed=11) == first
    assert get_png(client, "/api/generate", run="faces", n=5, seed=12) != first
    assert png_array(first).shape == (128, 192, 3)  # 5 faces of 64x64 on a 3-column grid


def test_faces_are_the_librarys_samples(client, runs_dir):
    """The page draws exactly what `sample --seed` draws: averaged by default, raw=1 the trained generator."""
    for raw, ema in (("0", True), ("1", False)):
        grid = png_array(get_png(client, "/api/generate", run="faces", n=4, seed=3, raw=raw))
        expected = image_grid(generate(load_generator(runs_dir / "faces", ema=ema), 4, seed=3))
        np.testing.assert_array_equal(grid, expected)
    averaged = get_png(client, "/api/generate", run="faces", n=4, seed=3)
    assert get_png(client, "/api/generate", run="faces", n=4, seed=3, raw=1) != averaged
    # A run without an average has one generator: raw or not, the same faces.
    assert (get_png(client, "/api/generate", run="plain", n=4, seed=3, raw=1)
            == get_png(client, "/api/generate", run="plain", n=4, seed=3))


def test_the_best_state_is_served_on_request_and_latest_by_default(tmp_path):
    """state=best draws from checkpoints/best.npz (here epoch 1 of 2), the default from the latest state."""
    folder = tmp_path / "runs"
    cfg = tiny_config(image_size=64, g_filters=(8, 8, 8), d_filters=(8, 8, 16, 16), epochs=1, init="default",
                      g_bn_momentum=0.1, eval_every=1, eval_samples=8)
    train(cfg, blob_images(32, size=64), folder / "r", verbose=0)  # best.npz: epoch 1
    train(cfg.replace(epochs=2, eval_every=0), blob_images(32, size=64), folder / "r", verbose=0, resume=True)
    train(cfg.replace(eval_every=0), blob_images(32, size=64), folder / "none", verbose=0)
    client = create_app(folder).test_client()
    summaries = {r["name"]: r for r in client.get("/api/runs").get_json()["runs"]}
    assert summaries["r"]["best"] == {"epoch": 1, "kimg": 0.032} and summaries["none"]["best"] is None
    for state in ("best", "latest"):
        grid = png_array(get_png(client, "/api/generate", run="r", n=4, seed=3, state=state))
        np.testing.assert_array_equal(grid, image_grid(generate(load_generator(folder / "r", state=state), 4, seed=3)))
    assert (get_png(client, "/api/generate", run="r", n=4, seed=3)
            == get_png(client, "/api/generate", run="r", n=4, seed=3, state="latest")
            != get_png(client, "/api/generate", run="r", n=4, seed=3, state="best"))
    assert client.get("/api/faces", query_string={"run": "r", "n": 1, "state": "best"}).get_json()["state"] == "best"
    missing = client.get("/api/generate", query_string={"run": "none", "n": 1, "state": "best"})
    assert missing.status_code == 404 and "eval_every" in missing.get_json()["error"]
    bad = client.get("/api/generate", query_string={"run": "r", "n": 1, "state": "worst"})
    assert bad.status_code == 400 and bad.get_json() == {"error": "state must be latest or best, got 'worst'"}


def test_single_faces_are_the_cells_of_the_grid(client):
    grid = png_array(get_png(client, "/api/generate", run="faces", n=4, seed=5))
    cells = [grid[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64] for r in range(2) for c in range(2)]
    single = png_array(get_png(client, "/api/generate", run="faces", n=4, seed=5, index=2))
    np.testing.assert_array_equal(single, cells[2])

    data = strict_json(client.get("/api/faces", query_string={"run": "faces", "n": 4, "seed": 5}).text)
    assert (data["n"], data["seed"], data["raw"], len(data["faces"])) == (4, 5, False, 4)
    for url, cell in zip(data["faces"], cells):
        assert url.startswith("data:image/png;base64,")
        np.testing.assert_array_equal(png_array(base64.b64decode(url.split(",", 1)[1])), cell)


def test_a_missing_seed_is_drawn_and_reported(client):
    response = client.get("/api/generate", query_string={"run": "faces", "n": 2})
    assert response.status_code == 200
    seed = int(response.headers["X-Seed"])
    assert get_png(client, "/api/generate", run="faces", n=2, seed=seed) == response.data
    assert client.get("/api/faces", query_string={"run": "faces", "n": 1}).get_json()["seed"] >= 0


def test_interpolation_runs_from_seed_a_to_seed_b(client):
    def walk(t):
        return get_png(client, "/api/interpolate", run="faces", seed_a=7, seed_b=8, t=t)

    # t=0 and t=1 are exactly the first face of each seed, as generate draws it.
    assert walk(0) == get_png(client, "/api/generate", run="faces", n=1, seed=7)
    assert walk(1) == get_png(client, "/api/generate", run="faces", n=1, seed=8)
    middle = walk(0.5)
    assert middle not in (walk(0), walk(1))


def test_slerp_keeps_the_norm_where_a_straight_line_would_not():
    rng = np.random.default_rng(0)
    z_a, z_b = rng.standard_normal((2, 100)).astype(np.float32)
    middle = slerp(z_a, z_b, 0.5)
    assert np.linalg.norm(0.5 * z_a + 0.5 * z_b) < 0.8 * np.linalg.norm(z_a)  # what slerp avoids
    np.testing.assert_allclose(np.linalg.norm(middle), (np.linalg.norm(z_a) + np.linalg.norm(z_b)) / 2, rtol=0.05)
    np.testing.assert_array_equal(slerp(z_a, z_b, 0.0), z_a)
    np.testing.assert_array_equal(slerp(z_a, z_a, 0.3), z_a)  # parallel: no division by sin(0)


GOOD = {"run": "faces", "n": "2", "seed": "1"}
WALK = {"run": "faces", "seed_a": "1", "seed_b": "2", "t": "0.5"}


@pytest.mark.parametrize("path, params, status, message", [
    ("/api/generate", {**GOOD, "n": "0"}, 400, "n must be an integer from 1 to 64"),
    ("/api/generate", {**GOOD, "n": "65"}, 400, "n must be"),
    ("/api/generate", {**GOOD, "n": "-1"}, 400, "n must be"),
    ("/api/generate", {**GOOD, "n": "1.5"}, 400, "n must be"),
    ("/api/generate", {**GOOD, "n": "abc"}, 400, "n must be"),
    ("/api/generate", {"run": "faces", "seed": "1"}, 400, "n must be"),
    ("/api/faces", {**GOOD, "n": "100"}, 400, "n must be"),
    ("/api/generate", {**GOOD, "seed": "-1"}, 400, "seed must be a"),
    ("/api/generate", {**GOOD, "seed": "x"}, 400, "seed must be"),
    ("/api/generate", {**GOOD, "seed": "1e3"}, 400, "seed must be"),
    ("/api/generate", {**GOOD, "seed": "1.0"}, 400, "seed must be"),
    ("/api/generate", {**GOOD, "seed": "\u0661"}, 400, "seed must be"),  # an Arabic-Indic one: int() takes it
    ("/api/generate", {**GOOD, "seed": str(2**63)}, 400, "seed must be"),
    ("/api/generate", {**GOOD, "seed": "9" * 5000}, 400, "seed must be"),
    ("/api/generate", {**GOOD, "index": "2"}, 400, "index must be below n=2"),
    ("/api/generate", {**GOOD, "index": "64"}, 400, "index must be"),
    ("/api/generate", {**GOOD, "raw": "2"}, 400, "raw must be 0 or 1"),
    ("/api/interpolate", {**WALK, "t": "1.5"}, 400, "t must be a number from 0 to 1"),
    ("/api/interpolate", {**WALK, "t": "-0.1"}, 400, "t must be"),
    ("/api/interpolate", {**WALK, "t": "nan"}, 400, "t must be"),
    ("/api/interpolate", {**WALK, "t": "inf"}, 400, "t must be"),
    ("/api/interpolate", {**WALK, "t": "half"}, 400, "t must be"),
    ("/api/interpolate", {"run": "faces", "seed_a": "1", "seed_b": "2"}, 400, "t must be"),
    ("/api/interpolate", {**WALK, "seed_a": ""}, 400, "seed_a must be"),
    ("/api/interpolate", {**WALK, "seed_b": "-3"}, 400, "seed_b must be"),
    ("/api/generate", {**GOOD, "run": "nope"}, 404, "unknown run 'nope'"),
    ("/api/generate", {**GOOD, "run": "not-a-run"}, 404, "unknown run"),
    ("/api/interpolate", {**WALK, "run": "nope"}, 404, "unknown run"),
    ("/api/generate", {"n": "2", "seed": "1"}, 400, "run name is empty"),
])
def test_bad_input_gets_one_line_of_json(client, path, params, status, message):
    response = client.get(path, query_string=params)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert response.mimetype == "application/json" and "Traceback" not in body
    error = strict_json(body)["error"]
    assert message in error and "\n" not in error


@pytest.mark.parametrize("name", ["../faces", "..", ".", "faces/..", "faces/../plain", "/etc", "/etc/passwd",
                                  "../secret.txt", "..\\faces", "faces\x00", "escape", "x" * 300])
def test_run_names_cannot_leave_the_runs_folder(client, name):
    for path, params in (("/api/generate", GOOD), ("/api/interpolate", WALK)):
        response = client.get(path, query_string={**params, "run": name})
        assert response.status_code == 400, (name, response.get_data(as_text=True))
        assert response.mimetype == "application/json"


def test_unknown_paths_and_methods_answer_json(client):
    for path, method, status in (("/api/nope", "get", 404), ("/api/generate", "post", 405),
                                 ("/static/../../secret.txt", "get", 404), ("/static/%2e%2e/app.py", "get", 404)):
        response = getattr(client, method)(path)
        assert response.status_code == status, path
        assert "error" in response.get_json()


def test_a_damaged_run_answers_a_clear_error_and_the_others_still_serve(client):
    response = client.get("/api/generate", query_string={**GOOD, "run": "damaged"})
    assert response.status_code == 500
    assert "run 'damaged' cannot be loaded" in response.get_json()["error"]
    response = client.get("/api/interpolate", query_string={**WALK, "run": "no-weights"})
    assert response.status_code == 500
    assert "no checkpoint" in response.get_json()["error"]
    get_png(client, "/api/generate", **GOOD)


def test_concurrent_requests_get_the_same_faces_as_one_at_a_time(runs_dir):
    """8 threads at once, each on its own test client of one app: cache and inference shared between them."""
    app = create_app(runs_dir, cache_size=1)
    requests = [("/api/generate", {"run": run, "n": "8", "seed": str(seed), "raw": raw})
                for run in ("faces", "plain") for seed in (1, 2) for raw in ("0", "1")]
    expected = [get_png(app.test_client(), path, **params) for path, params in requests]
    results, errors = [None] * len(requests), []

    def fetch(i):
        try:
            path, params = requests[i]
            results[i] = get_png(app.test_client(), path, **params)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == expected
    assert len(app.extensions["animegan_generators"]) == 1  # bounded: older generators were dropped


def test_a_run_without_an_average_is_loaded_once(runs_dir):
    app = create_app(runs_dir)
    client = app.test_client()
    get_png(client, "/api/generate", run="plain", n=1, seed=0)
    get_png(client, "/api/generate", run="plain", n=1, seed=0, raw=1)
    assert len(app.extensions["animegan_generators"]) == 1
    get_png(client, "/api/generate", run="faces", n=1, seed=0, raw=1)
    assert len(app.extensions["animegan_generators"]) == 2


@pytest.mark.parametrize("host, warns", [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                          ("127.0.0.2", False), ("0.0.0.0", True), ("", True), ("::", True),
                                          ("192.168.1.5", True), ("myhost.example", True)])
def test_only_loopback_hosts_go_without_a_warning(host, warns):
    warning = public_host_warning(host)
    assert (warning is not None) == warns
    if warns:
        assert "no authentication" in warning and "\n" not in warning


# ---------------------------------------------------------------------------------------------------------------
# The real command: `animegan-tf serve` in its own process, on a free port of 127.0.0.1
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--runs", "EMPTY"], "no runs under"),
    (["--runs", "MISSING"], "no runs under"),
    (["--runs", "RUNS", "--run", "nope"], "unknown run 'nope'"),
    (["--runs", "RUNS", "--run", "../faces"], "one folder name"),
    (["--runs", "RUNS", "--port", "70000"], "--port must be"),
])
def test_serve_bad_input_exits_2_with_one_line(args, message, runs_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    paths = {"EMPTY": tmp_path / "empty", "MISSING": tmp_path / "missing", "RUNS": runs_dir}
    assert main(["serve", *[str(paths.get(a, a)) for a in args]]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.fixture(scope="module")
def served(runs_dir, tmp_path_factory):
    """The base URL of `python -m animegan_tf serve --port 0` (the port the OS picked), stopped at the end."""
    log = tmp_path_factory.mktemp("serve-log") / "stderr.txt"
    with open(log, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "animegan_tf", "serve", "--runs", str(runs_dir), "--run",
                                 "faces", "--port", "0"], stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = _first_line(proc, timeout=180)
        assert "http://127.0.0.1:" in line, (line, log.read_text())
        yield "http://" + line.split("http://", 1)[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _first_line(proc, timeout):
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if selector.select(timeout=1):
            return proc.stdout.readline()
    return f"(no line: exit code {proc.poll()})"


def test_serve_command_answers_on_localhost(served):
    with urllib.request.urlopen(served + "api/runs", timeout=60) as response:
        assert {run["name"] for run in json.load(response)["runs"]} >= {"faces", "plain"}
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(served + "api/generate?run=faces&n=99", timeout=60)
    assert bad.value.code == 400 and "n must be" in json.load(bad.value)["error"]


def test_load_benchmark_runs_small(runs_dir):
    """benchmarks/serve_load.py end to end, 30 requests: every bad request is refused as it should be, no 5xx."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "serve_load.py"
    proc = subprocess.run([sys.executable, str(script), "--runs", str(runs_dir), "--run", "faces", "--requests", "30",
                           "--concurrency", "4", "--grid-repeats", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "30 requests at concurrency 4" in proc.stdout
    assert "5xx: 0; not the expected status: 0" in proc.stdout


# ---------------------------------------------------------------------------------------------------------------
# The page in a real browser: Debian's chromium driven by Selenium through Debian's chromedriver
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no Chromium here: apt-get install chromium chromium-driver (.ci/run does)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1150"):
        options.add_argument(flag)
    # The driver's path is given, so Selenium Manager (which would download one) is never asked.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


CANVAS_PIXELS = """
const img = arguments[0], canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
canvas.getContext('2d').drawImage(img, 0, 0);
return canvas.toDataURL('image/png');
"""


def test_page_in_a_real_browser(browser, served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(served)
    wait.until(lambda d: d.find_element(By.ID, "run").get_attribute("value") == "faces")
    assert "epochs done" in browser.find_element(By.ID, "summary").text
    # the page opens with a first grid of faces, unasked
    first = int(browser.find_element(By.ID, "n").get_attribute("value"))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#faces img")) == first
               and d.find_element(By.ID, "generate").is_enabled())

    # Generate 6 faces from seed 7: each decoded at 64x64, shown at 128 px with nearest-neighbour scaling.
    for field, value in (("n", "6"), ("seed", "7")):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "generate").click()

    def faces_decoded(driver):
        faces = driver.find_elements(By.CSS_SELECTOR, "#faces img")
        done = len(faces) == 6 and all(driver.execute_script("return arguments[0].complete", f) for f in faces)
        return faces if done else False

    faces = wait.until(faces_decoded)
    for face in faces:
        assert browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", face) \
            == [64, 64]
        assert face.size == {"width": 128, "height": 128}
        assert face.value_of_css_property("image-rendering") == "pixelated"
    link = browser.find_element(By.CSS_SELECTOR, "#faces a")
    assert link.get_attribute("download") == "faces-seed7-0.png"
    with urllib.request.urlopen(served + "api/generate?run=faces&n=6&seed=7&index=0", timeout=60) as response:
        assert base64.b64decode(link.get_attribute("href").split(",", 1)[1]) == response.read()
    assert "seed 7" in browser.find_element(By.ID, "seed-note").text

    # The latent walk: the slider moves the face from seed A's towards seed B's.
    walk = browser.find_element(By.ID, "walk")

    def walk_at(t):
        return lambda d: (f"t={t}" in walk.get_attribute("src") and d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth === 64", walk))

    wait.until(walk_at("0.00"))
    start = browser.execute_script(CANVAS_PIXELS, walk)
    browser.find_element(By.ID, "t").send_keys(Keys.END)
    wait.until(walk_at("1.00"))
    end = browser.execute_script(CANVAS_PIXELS, walk)
    assert end != start
    assert browser.find_element(By.ID, "t-value").text == "1.00"
    with urllib.request.urlopen(served + "api/interpolate?run=faces&seed_a=1&seed_b=2&t=1", timeout=60) as response:
        np.testing.assert_array_equal(png_array(base64.b64decode(end.split(",", 1)[1])), png_array(response.read()))
    assert browser.find_element(By.ID, "status").text == ""  # no error shown



@pytest.fixture()
def served_pretrained(tmp_path):
    """`serve --pretrained --port 0`: the generator that ships with the package, as a fresh clone serves it."""
    with open(tmp_path / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "animegan_tf", "serve", "--pretrained", "--port", "0"],
                                stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = _first_line(proc, timeout=180)
        assert "http://127.0.0.1:" in line, (line, (tmp_path / "stderr.txt").read_text())
        yield "http://" + line.split("http://", 1)[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_pretrained_page_opens_with_faces(browser, served_pretrained, tmp_path):
    """A fresh clone's page: the shipped generator's summary and a first grid of its faces, drawn unasked."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(served_pretrained)
    made = runs.read_made(runs.pretrained_run())
    wait.until(lambda d: d.find_element(By.ID, "run").get_attribute("value") == runs.DEFAULT_PRETRAINED)
    summary = browser.find_element(By.ID, "summary").text
    # as the page writes numbers (JavaScript's String: 2000, 52.5)
    assert f"{made['images_shown'] / 1000:g} kimg on anime_faces_calib + anime_faces_more" in summary
    reference = made["scored"]["reference"].replace("+", " + ")  # the faces its FID was measured against
    assert f"samples against {reference}; weights {made.get('stored', 'float32')}" in summary
    assert f"FID {round(made['scored']['fid'], 1):g}" in summary
    first = int(browser.find_element(By.ID, "n").get_attribute("value"))

    def faces_decoded(driver):
        faces = driver.find_elements(By.CSS_SELECTOR, "#faces img")
        done = len(faces) == first and all(driver.execute_script("return arguments[0].complete", f) for f in faces)
        return faces if done else False

    faces = wait.until(faces_decoded)
    pixels = [png_array(base64.b64decode(browser.execute_script(CANVAS_PIXELS, face).split(",", 1)[1]))
              for face in faces]
    assert all(p.shape == (64, 64, 3) and p.std() > 20 for p in pixels)  # drawn faces, not a flat grey
    assert len({p.tobytes() for p in pixels}) == first  # each face its own
    assert browser.find_element(By.ID, "status").text == ""
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth === 64",
                                          d.find_element(By.ID, "walk")))
    shot = tmp_path / "serve.png"
    browser.save_screenshot(str(shot))
    assert Image.open(shot).size[0] > 0
    if os.environ.get("ANIMEGAN_SERVE_SCREENSHOT"):  # e.g. docs/serve.png, the README's picture
        Path(os.environ["ANIMEGAN_SERVE_SCREENSHOT"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, os.environ["ANIMEGAN_SERVE_SCREENSHOT"])
