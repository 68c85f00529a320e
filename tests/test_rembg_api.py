"""rembg's HTTP API served by ``python app.py`` (web/rembg_api.py), against a real ``rembg s``.

The same requests (what rembg's README sends: ``curl -F file=@photo``, form fields and query parameters) go to the
launched app and to rembg 2.0.86's own server, started here on loopback from its own virtualenv; the answers must
match: masks within a grey level where both run the network at f32 (u2netp; u2net with
``extras={"precision":"exact"}``); at u2net's default precision the mask is the pipeline's own default (whose
quality tolerance pipeline.background documents and benchmarks.bench_quality measures). The
bad-input corpus goes through ``/api/remove``: every case is a 4xx with a one-sentence detail or a cut-out, and
the server keeps serving.

The URL fetcher (pipeline.fetch) is tested for real against a loopback HTTP server: every private, loopback,
link-local or reserved address, odd scheme and odd spelling of an address is refused without a connection. Its
positive path cannot reach a public server here, so the tests named ``test_plumbing_*`` widen the address check
to 127.0.0.1 alone (and give host names through a resolver of their own); the refusals after redirects and the
second DNS answer run under that widening, to other addresses. The onnxruntime fallback is a plumbing test too:
OpenVINO is made to fail.
"""

from __future__ import annotations

import functools
import http.server
import io
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rembg
from conftest import EVAL_DIR, SAMPLES
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from benchmarks.bench_rembg_server import launch_rembg_server
from benchmarks.harness import launch_app, stop
from pipeline import background, fetch, models
from pipeline.background import remove_background
from pipeline.fetch import UrlFetchDisabledError, UrlFetchError, fetch_url, is_public_address
from pipeline.intake import load_image
from tests.corpus import corpus
from tests.test_corpus import assert_clear_message
from web import model_table, rembg_api

PHOTOS = sorted(SAMPLES.glob("*.jpg"))
REFUSED = "private, local or reserved address"


def eval_photos(name: str, count: int) -> list[tuple[Path, np.ndarray]]:
    """The first ``count`` photos of evaluation set ``name`` (files, to be sent as they are) and their truth."""
    images = sorted((EVAL_DIR / name / "images").iterdir())[:count]
    return [(path, np.asarray(Image.open(EVAL_DIR / name / "masks" / f"{path.stem}.png").convert("L")))
            for path in images]


def decoded(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)), np.int16)


def assert_within_a_grey_level(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    """Within 1 everywhere but ≤ 1e-5 of the pixels, which may differ by 2 (rembg truncates the network's output)."""
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    difference = np.abs(ours - theirs)
    assert difference.max() <= 2 and (difference > 1).mean() <= 1e-5, (what, difference.max(), (difference > 1).sum())


# --- the launched app and rembg s side by side ---------------------------------------------------------------

@pytest.fixture(scope="module")
def ours() -> Iterator[str]:
    process, url, _ = launch_app({fetch.ENABLE_VARIABLE: "1"})
    yield url
    stop(process)


@pytest.fixture(scope="module")
def theirs() -> Iterator[str]:
    process, url = launch_rembg_server()
    yield url
    stop(process)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=600) as http_client:
        yield http_client


def post(client: httpx.Client, url: str, photo: Path | bytes, query: dict[str, str] | None = None,
         **fields: str) -> httpx.Response:
    data = photo if isinstance(photo, bytes) else photo.read_bytes()
    return client.post(url + "api/remove", files={"file": ("photo.jpg", data)}, data=fields, params=query)


def test_masks_and_cutouts_match_rembg_at_f32(ours: str, theirs: str, client: httpx.Client, eval_dir: Path) -> None:
    """u2netp (f32 at the default precision): mask, cut-out, background colour, as rembg s gives them."""
    for photo in [*PHOTOS, *(path for path, _ in eval_photos("davis-dev", 2))]:
        mask = decoded(post(client, ours, photo, model="u2netp", om="true"))
        assert mask.ndim == 2
        assert_within_a_grey_level(mask, decoded(post(client, theirs, photo, model="u2netp", om="true")), photo.name)
        cutout = decoded(post(client, ours, photo, model="u2netp"))
        rembg_cutout = decoded(post(client, theirs, photo, model="u2netp"))
        # rembg's plain cut-out is its naive_cutout: colours darkened by the mask, nothing under alpha 0.
        assert_within_a_grey_level(cutout, rembg_cutout, f"{photo.name} cut-out")
        assert (cutout[..., 3] == 0).any() and not cutout[..., :3][cutout[..., 3] == 0].any()
    photo = PHOTOS[0]
    query = {"bgc": "20,120,250,255"}
    coloured = decoded(post(client, ours, photo, query, model="u2netp"))
    assert (coloured[..., 3] == 255).all()
    assert_within_a_grey_level(coloured, decoded(post(client, theirs, photo, query, model="u2netp")), "bgc")


def test_u2net_exact_matches_rembg_and_default_is_the_pipelines(ours: str, theirs: str, client: httpx.Client,
                                                                 eval_dir: Path) -> None:
    """u2net: with ``extras={"precision":"exact"}`` within a grey level of rembg's mask; by default (no model named,
    precision "auto") the pipeline's own default mask, whose quality against the evaluation sets' truth
    pipeline.background documents and benchmarks.bench_quality measures (over whole sets: a handful of photos
    says little about a bound of 0.005 on the mean)."""
    exact = {"extras": json.dumps({"precision": "exact"})}
    for photo, _ in eval_photos("davis-dev", 2) + eval_photos("grabcut", 2):
        theirs_mask = decoded(post(client, theirs, photo, model="u2net", om="true"))
        assert_within_a_grey_level(decoded(post(client, ours, photo, exact, model="u2net", om="true")), theirs_mask,
                                   photo.name)
        default_mask = decoded(post(client, ours, photo, om="true"))
        expected = remove_background(load_image(photo).image, refine_edges=False, only_mask=True).mask
        assert_within_a_grey_level(default_mask, np.asarray(expected, np.int16), f"{photo.name} default")


def test_rembg_options_match(ours: str, theirs: str, client: httpx.Client) -> None:
    """Post-process mask and alpha matting as rembg does them; dc changes the colours only, never the alpha."""
    photo = SAMPLES / "chelsea.jpg"
    for fields in ({"ppm": "true"}, {"a": "true", "ae": "15"}):
        ours_png = decoded(post(client, ours, photo, model="u2netp", **fields))
        theirs_png = decoded(post(client, theirs, photo, model="u2netp", **fields))
        # ppm thresholds a blurred mask at 127: a pixel or two may flip where the two masks differ by a level.
        assert (np.abs(ours_png - theirs_png) > 2).mean() <= 5e-5, fields
    plain = decoded(post(client, ours, photo, model="u2netp", extras='{"putalpha": true}'))
    for extras in ('{"putalpha": true}', None, '{"decontaminate": "rembg"}'):
        query = {"extras": extras} if extras else None
        ours_dc = decoded(post(client, ours, photo, query, model="u2netp", dc="true"))
        theirs_dc = decoded(post(client, theirs, photo, model="u2netp", dc="true"))
        assert_within_a_grey_level(ours_dc[..., 3], theirs_dc[..., 3], f"dc alpha, extras {extras}")
        soft = (ours_dc[..., 3] > 0) & (ours_dc[..., 3] < 255)
        changed = np.abs(ours_dc[..., :3] - plain[..., :3])[soft].mean()
        if extras == '{"putalpha": true}':  # putalpha is rembg's flag for the photo's own colours: dc=true wins
            assert changed > 1
        if extras == '{"decontaminate": "rembg"}':  # rembg's own foreground estimate: its colours
            assert np.abs(ours_dc[..., :3] - theirs_dc[..., :3])[soft].mean() <= 1


def test_refine_extra_refines(ours: str, client: httpx.Client) -> None:
    photo = SAMPLES / "chelsea.jpg"
    plain = decoded(post(client, ours, photo, model="u2netp", om="true"))
    refined = decoded(post(client, ours, photo, {"extras": '{"refine": true}'}, model="u2netp", om="true"))
    expected = background.refine_mask(Image.open(photo), background.model_mask(Image.open(photo), model="u2netp"))
    assert np.abs(refined - expected).max() <= 1 and np.abs(refined - plain).max() > 10


def test_same_parameters_and_docs_as_rembg(ours: str, theirs: str, client: httpx.Client) -> None:
    """The OpenAPI schemas name the same parameters, query and form, on the same paths; the docs are at /api."""
    def parameters(schema: dict, path: str) -> dict[str, set[str]]:
        operations = schema["paths"][path]
        form_ref = operations["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
        form = schema["components"]["schemas"][form_ref.rsplit("/", 1)[1]]["properties"]
        return {"get": {p["name"] for p in operations["get"]["parameters"]},
                "post query": {p["name"] for p in operations["post"]["parameters"]}, "post form": set(form)}

    ours_schema = client.get(ours + "api/openapi.json").json()
    assert parameters(ours_schema, "/remove") == parameters(client.get(theirs + "openapi.json").json(), "/api/remove")
    docs = client.get(ours + "api", follow_redirects=True)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert client.get(ours).status_code == 200  # the UI is still served


def test_bad_requests_are_clear_4xx(ours: str, theirs: str, client: httpx.Client) -> None:
    photo = SAMPLES / "chelsea.jpg"
    cases: list[tuple[dict, dict, int, str]] = [
        ({"model": "no-such-model"}, {}, 400, "Unknown model"),
        ({"model": "sam"}, {}, 400, "cannot be used here"),
        ({"af": "300"}, {}, 422, "'af'"),
        ({"a": "perhaps"}, {}, 422, "'a'"),
        ({"ae": "100000"}, {}, 400, "at most 255"),
        ({}, {"bgc": "red"}, 400, "bgc"),
        ({}, {"extras": "{not json"}, 400, "JSON object"),
        ({}, {"extras": '{"model_path": "/etc/passwd"}'}, 400, "model_path"),
        ({}, {"extras": '{"precision": "float64"}'}, 400, "precision"),
    ]
    for fields, query, status, words in cases:
        response = post(client, ours, photo, query, model="u2netp", **fields) if "model" not in fields else \
            post(client, ours, photo, query, **fields)
        assert response.status_code == status, (fields, query, response.text)
        assert_clear_message(response.json()["detail"], words)
    missing = client.post(ours + "api/remove", data={"model": "u2netp"})
    assert missing.status_code == 422 and missing.json()["detail"] == "The file is missing."
    # The URL form: rembg s and ours (fetching on here) both refuse a loopback address with a 400.
    for url in (ours, theirs):
        response = client.get(url + "api/remove", params={"url": f"{ours}gradio_api/info", "model": "u2netp"})
        assert response.status_code == 400, (url, response.text)
    assert_clear_message(client.get(ours + "api/remove", params={"url": "file:///etc/passwd"}).json()["detail"],
                         "Only http and https")
    too_large = client.post(ours + "api/remove", files={"file": ("big.jpg", b"\0" * (101 * 2**20))})
    assert too_large.status_code == 413 and "100 MB" in too_large.json()["detail"]


def test_corpus_through_the_api_then_still_serving(ours: str, client: httpx.Client) -> None:
    problems = []
    for case in corpus():
        response = post(client, ours, case.data, model="u2netp")
        try:
            if case.rejected_with is not None:
                assert 400 <= response.status_code < 500, response.status_code
                assert_clear_message(response.json()["detail"], case.rejected_with)
            else:
                image = Image.open(io.BytesIO(response.content))
                assert response.status_code == 200 and image.format == "PNG", response.status_code
                assert image.size == case.size and image.mode == "RGBA", (image.size, image.mode)
        except AssertionError as error:
            problems.append(f"{case.name}: {str(error).splitlines()[0]}")
    assert not problems, "\n".join(problems)
    cutout = decoded(post(client, ours, SAMPLES / "chelsea.jpg", model="u2netp"))
    assert cutout.shape == (300, 451, 4) and (cutout[..., 3] == 0).any() and (cutout[..., 3] == 255).any()


def test_url_fetch_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fetch.ENABLE_VARIABLE, raising=False)
    with pytest.raises(UrlFetchDisabledError):
        fetch_url("https://example.com/photo.jpg")
    api = TestClient(FastAPI(routes=rembg_api.routes()))
    response = api.get("/api/remove", params={"url": "https://example.com/photo.jpg"})
    assert response.status_code == 403
    assert_clear_message(response.json()["detail"], fetch.ENABLE_VARIABLE)


# --- the URL fetcher against a loopback server ---------------------------------------------------------------

class LoopbackServer(http.server.ThreadingHTTPServer):
    """Serves a photo, redirects, a large body (declared or chunked) and a slow answer; records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        self.photo = (SAMPLES / "chelsea.jpg").read_bytes()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Host", "")))
        path, _, target = self.path.partition("?to=")
        if path == "/photo.jpg":
            self._answer(200, self.server.photo)
        elif path == "/redirect":
            self._answer(302, b"", Location=target)
        elif path == "/loop":
            self._answer(302, b"", Location="/loop")
        elif path == "/big":
            self._answer(200, b"x" * 5000)
        elif path == "/chunked-big":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(5):
                self.wfile.write(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/slow":
            time.sleep(3)
            self._answer(200, b"late")
        else:
            self._answer(404, b"")

    def _answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    monkeypatch.setenv(fetch.ENABLE_VARIABLE, "1")
    instance = LoopbackServer()
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def test_private_addresses_and_odd_schemes_are_refused(server: LoopbackServer) -> None:
    port = server.server_address[1]
    private = [f"http://127.0.0.1:{port}/photo.jpg", f"http://localhost:{port}/photo.jpg", f"http://[::1]:{port}/",
               f"http://127.1:{port}/", f"http://2130706433:{port}/", f"http://0x7f000001:{port}/",
               f"http://user:secret@127.0.0.1:{port}/", f"https://127.0.0.1:{port}/",
               "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/",
               "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://224.0.0.1/",
               "http://240.0.0.1/", "http://255.255.255.255/", "http://[fe80::1]/", "http://[fc00::1]/",
               "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/", "http://[2002:7f00:1::]/",
               "http://[64:ff9b::a9fe:a9fe]/", "http://[::]/"]
    for url in private:
        with pytest.raises(UrlFetchError) as refused:
            fetch_url(url)
        assert_clear_message(refused.value.message, REFUSED)
    for url in ("file:///etc/passwd", "ftp://example.com/photo.jpg", "gopher://127.0.0.1:70/", "data:image/png;base64,",
                "javascript:alert(1)", f"//127.0.0.1:{port}/photo.jpg", "photo.jpg"):
        with pytest.raises(UrlFetchError) as refused:
            fetch_url(url)
        assert_clear_message(refused.value.message, "Only http and https")
    for url in ("http:///photo.jpg", "http://:80/"):
        with pytest.raises(UrlFetchError, match="no host name"):
            fetch_url(url)
    assert not server.requests  # nothing was ever connected to


def test_the_address_check() -> None:
    public = ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2a00:1450:4001::200e"]
    assert all(is_public_address(ipaddress.ip_address(address)) for address in public)
    assert not is_public_address(ipaddress.ip_address("64:ff9b::7f00:1"))  # NAT64 of 127.0.0.1
    assert not is_public_address(ipaddress.ip_address("2001:0:4136:e378:8000:63bf:80ff:fffe"))  # Teredo of 127.0.0.1


def only_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The plumbing tests' address check: 127.0.0.1 stands in for a public server, everything else as usual."""
    return address == ipaddress.IPv4Address("127.0.0.1") or is_public_address(address)


def hosts(names: dict[str, list[list[str]]]) -> tuple[Callable[[str, int], list[str]], list[str]]:
    """A resolver giving each name's answers in turn (the last one again), and the list of names asked for."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        answers = names[host]
        return answers[min(asked.count(host), len(answers)) - 1]

    return resolve, asked


def test_plumbing_fetch_follows_redirects_and_pins_the_checked_address(server: LoopbackServer) -> None:
    port = server.server_address[1]
    # A name that answers loopback first and a private address afterwards (DNS rebinding): the connection goes to
    # the address that was checked, and the name is resolved once.
    resolve, asked = hosts({"photos.test": [["127.0.0.1"], ["10.0.0.1"]]})
    url = f"http://photos.test:{port}/photo.jpg"
    assert fetch_url(url, resolve=resolve, address_allowed=only_loopback) == server.photo
    assert asked == ["photos.test"] and server.requests[-1] == ("/photo.jpg", f"photos.test:{port}")
    # A relative redirect and an absolute one are followed; each hop is checked again.
    resolve, asked = hosts({"photos.test": [["127.0.0.1"]]})
    chain = f"{server.base}/redirect?to=/redirect?to=http://photos.test:{port}/photo.jpg"
    assert fetch_url(chain, resolve=resolve, address_allowed=only_loopback) == server.photo
    assert asked == ["photos.test"]
    # An answer with a private address among public ones is refused.
    resolve, _ = hosts({"photos.test": [["127.0.0.1", "192.168.0.7"]]})
    with pytest.raises(UrlFetchError, match=REFUSED):
        fetch_url(url, resolve=resolve, address_allowed=only_loopback)


def test_plumbing_redirects_to_private_places_are_refused(server: LoopbackServer) -> None:
    port = server.server_address[1]
    resolve, _ = hosts({"photos.test": [["169.254.169.254"]]})
    targets = {"http://169.254.169.254/latest/meta-data/": REFUSED, "http://10.0.0.1/": REFUSED,
               "http://[::ffff:192.168.1.1]/": REFUSED, "http://[fe80::1]:8080/": REFUSED,
               f"http://photos.test:{port}/photo.jpg": REFUSED,  # a name that resolves to a private address
               "file:///etc/passwd": "Only http and https", "ftp://example.com/": "Only http and https"}
    for target, words in targets.items():
        with pytest.raises(UrlFetchError) as refused:
            fetch_url(f"{server.base}/redirect?to={target}", resolve=resolve, address_allowed=only_loopback)
        assert_clear_message(refused.value.message, words)
    with pytest.raises(UrlFetchError, match="redirected more than 5 times"):
        fetch_url(f"{server.base}/loop", address_allowed=only_loopback)
    assert len([path for path, _ in server.requests if path == "/loop"]) == 6
    assert {path for path, _ in server.requests} <= {"/loop", *(f"/redirect?to={target}" for target in targets)}


def test_plumbing_size_cap_timeout_and_errors(server: LoopbackServer) -> None:
    for path in ("/big", "/chunked-big"):
        with pytest.raises(UrlFetchError) as refused:
            fetch_url(server.base + path, max_bytes=1000, address_allowed=only_loopback)
        assert_clear_message(refused.value.message, "larger than")
    assert fetch_url(server.base + "/chunked-big", max_bytes=5000, address_allowed=only_loopback) == b"x" * 5000
    started = time.monotonic()
    with pytest.raises(UrlFetchError) as refused:
        fetch_url(server.base + "/slow", timeout_s=1, address_allowed=only_loopback)
    assert_clear_message(refused.value.message, "took longer than 1 s")
    assert time.monotonic() - started < 2.5
    with pytest.raises(UrlFetchError) as refused:
        fetch_url(server.base + "/missing", address_allowed=only_loopback)
    assert_clear_message(refused.value.message, "HTTP 404")
    assert fetch.MAX_FETCH_BYTES == 50 * 2**20


def test_plumbing_the_url_form_of_the_api(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /api/remove?url= gives what POST gives for the same file (the fetch widened to loopback)."""
    resolve, _ = hosts({"photos.test": [["127.0.0.1"]]})
    monkeypatch.setattr(rembg_api, "fetch_url", functools.partial(fetch_url, resolve=resolve,
                                                                  address_allowed=only_loopback))
    api = TestClient(FastAPI(routes=rembg_api.routes()))
    url = f"http://photos.test:{server.server_address[1]}/photo.jpg"
    fetched = api.get("/api/remove", params={"url": url, "model": "u2netp", "om": "true"})
    posted = api.post("/api/remove", files={"file": ("photo.jpg", server.photo)},
                      data={"model": "u2netp", "om": "true"})
    assert fetched.status_code == posted.status_code == 200 and fetched.content == posted.content
    missing = api.get("/api/remove", params={"url": url.replace("photo.jpg", "missing")})
    assert missing.status_code == 400 and "HTTP 404" in missing.json()["detail"]


# --- every rembg model runnable: the onnxruntime fallback -----------------------------------------------------

def test_plumbing_onnxruntime_fallback(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Where OpenVINO cannot compile a network, rembg's own onnxruntime session runs it: the mask is rembg's
    exactly, OpenVINO is tried once however many precisions are asked for, the log and the model tables say so."""
    attempts = []

    class FailingOpenVino:
        def __init__(self, *args: object) -> None:
            attempts.append(args)
            raise RuntimeError("Exception from src/inference: Unsupported operation DeformConv\nmore detail")

    monkeypatch.setattr(background, "OpenVinoInnerSession", FailingOpenVino)
    monkeypatch.setattr(background, "_sessions", type(background._sessions)())
    monkeypatch.setattr(background, "_onnxruntime_models", {})
    photo = Image.open(SAMPLES / "coffee.jpg")
    with caplog.at_level(logging.WARNING, logger="pipeline.background"):
        masks = {precision: background.model_mask(photo, model="u2netp", precision=precision)
                 for precision in ("exact", "fast", "auto")}
    models.point_rembg_at_store()
    expected = np.asarray(rembg.remove(photo, session=rembg.new_session("u2netp"), only_mask=True), np.int16)
    assert np.array_equal(masks["exact"], expected) and np.array_equal(masks["auto"], expected)
    assert np.abs(masks["fast"] - expected).mean() < 1  # "fast" has its quicker resizing, on the same network
    assert len(attempts) == 1
    warnings = [record.getMessage() for record in caplog.records if "onnxruntime" in record.getMessage()]
    assert warnings == ["OpenVINO cannot run the model u2netp (Exception from src/inference: Unsupported "
                        "operation DeformConv); it runs on onnxruntime instead."]
    assert background.onnxruntime_reason("u2netp") and background.onnxruntime_reason("u2net") is None
    notes = {info.name: info.note for info in background.list_models()}
    assert notes["u2netp"].endswith("; runs on onnxruntime") and "onnxruntime" not in notes["u2net"]
    table = {row[0]: row[2] for row in model_table()}
    assert table["u2netp"].endswith("; runs on onnxruntime") and "onnxruntime" not in table["u2net"]
