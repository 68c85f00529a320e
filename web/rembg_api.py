"""rembg 2.0.86's HTTP API (``rembg s``), served by ``python app.py`` beside the UI, on our pipeline.

A drop-in for scripts and tools written against ``rembg s``: the same paths, parameters and answers.

- ``POST /api/remove``: a multipart ``file``; form fields ``model``, ``a``, ``af``, ``ab``, ``ae``, ``om``, ``ppm``,
  ``dc``, ``vm``; query parameters ``bgc`` and ``extras`` (where rembg reads them too). Answers ``image/png``.
- ``GET /api/remove?url=...``: the same parameters in the query; the image is fetched by
  :mod:`pipeline.fetch`, which is off unless ``BACKDROP_ALLOW_URL_FETCH=1`` (403 otherwise).
- ``/api``: the OpenAPI docs (Swagger UI; the schema at ``/api/openapi.json``), as ``rembg s`` has them.

What comes back is rembg's: the defaults run no edge refinement, precision ``"auto"`` (for u2net the quicker
precision whose quality :mod:`pipeline.background` documents; ``extras={"precision":"exact"}`` gives rembg's own
mask within a grey level, as u2netp does by default), and the plain cut-out is rembg's, colours darkened under a
soft edge.
Where they differ:

- ``model`` defaults to ``u2net``, not rembg 2.0.86's ``bria-rmbg`` (a 1 GB download under a non-commercial
  licence); every rembg session this app offers can be named (see :func:`pipeline.background.list_models`).
- ``dc=true`` estimates the subject's own colour under soft edges with the fast estimate of
  :mod:`pipeline.matting` (truer than rembg's, and 0.1 s against ~8 s at 12 MP); ``extras={"decontaminate":"rembg"}``
  runs rembg's own instead. ``vm=true`` (ViTMatte) estimates colours the same way, as rembg's does.
- ``extras`` is JSON with our options instead of rembg's session arguments: ``refine`` (bool: the edge
  refinement of the Remove tab), ``precision`` ("auto", "fast", "exact", "int8"), ``decontaminate`` ("fast", "rembg",
  "off") and rembg's ``putalpha`` (bool: the photo's own colours, not darkened). Anything else is refused.
- A bad request is a 4xx answer with a one-sentence JSON ``detail`` (rembg answers some with a 500): unreadable,
  truncated or bomb-sized images, uploads over 100 MB or 40 MP (:mod:`pipeline.intake`'s limits), ``ae`` over 255.
- Multi-mask sessions (``u2net_cloth_seg``) give one mask, their maximum, instead of rembg's stacked images.
- Cross-origin browser requests follow Gradio's policy (any origin on a public host; only local pages when the
  server is on localhost) rather than rembg's ``*``.

At most :data:`CONCURRENT_REQUESTS` images are processed at once (OpenVINO spreads one over every core); the
others wait their turn.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, File, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from PIL import Image
from rembg import bg as rembg_bg
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline import matting
from pipeline.background import DEFAULT_MODEL, remove_background, resolve_precision
from pipeline.errors import PipelineError
from pipeline.fetch import UrlFetchDisabledError, fetch_url
from pipeline.intake import MAX_UPLOAD_BYTES, encode_image, load_image

CONCURRENT_REQUESTS = 2
MAX_ERODE_SIZE = 255  # rembg has no limit; a huge erosion structure would hold the server for minutes
EXTRAS = ("refine", "precision", "decontaminate", "putalpha")
_NOT_AN_OBJECT = 'The extras parameter must be a JSON object, e.g. {"refine": true}.'

log = logging.getLogger(__name__)
_limiter: anyio.CapacityLimiter | None = None


class BadRequestError(PipelineError):
    """A parameter the API cannot use (a sentence for the caller)."""


@dataclass(frozen=True)
class RembgParams:
    """The parameters of ``rembg s``'s ``/api/remove``, under its names."""

    model: str = DEFAULT_MODEL
    a: bool = False  # alpha matting
    af: int = 240  # its foreground threshold
    ab: int = 10  # its background threshold
    ae: int = 10  # its erode size
    om: bool = False  # only the mask
    ppm: bool = False  # post-process the mask
    dc: bool = False  # decontaminate: the subject's own colours under soft edges
    vm: bool = False  # ViTMatte refinement
    bgc: str | None = None  # background colour "r,g,b,a"
    extras: str | None = None  # JSON options


def background_colour(text: str | None) -> tuple[int, int, int, int] | None:
    """``bgc`` ("r,g,b" or "r,g,b,a", 0–255 each) as an RGBA tuple."""
    if not text:
        return None
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in (3, 4) or not all(0 <= value <= 255 for value in values):
        raise BadRequestError(f"The background colour bgc must be three or four numbers from 0 to 255 separated "
                              f"by commas, not {text!r}.")
    return (*values, 255)[:4] if len(values) == 3 else values  # type: ignore[return-value]


def parse_extras(text: str | None) -> dict[str, Any]:
    """``extras``: a JSON object of the options this server understands (see the module's docstring)."""
    if not text:
        return {}
    try:
        extras = json.loads(text)
    except json.JSONDecodeError:
        raise BadRequestError(_NOT_AN_OBJECT) from None
    if not isinstance(extras, dict):
        raise BadRequestError(_NOT_AN_OBJECT)
    unknown = sorted(set(extras) - set(EXTRAS))
    if unknown:
        raise BadRequestError(f"The extras name options this server does not know ({', '.join(unknown)}); "
                              f"it understands {', '.join(EXTRAS)}.")
    for name in ("refine", "putalpha"):
        if not isinstance(extras.get(name, False), bool):
            raise BadRequestError(f"The extras option {name} must be true or false.")
    try:
        resolve_precision(DEFAULT_MODEL, extras.get("precision", "auto"))
    except ValueError as error:
        raise BadRequestError(f"The extras option {error}.") from None
    if extras.get("decontaminate", "fast") not in matting.DECONTAMINATE_MODES:
        raise BadRequestError(f"The extras option decontaminate must be one of "
                              f"{', '.join(matting.DECONTAMINATE_MODES)}.")
    return extras


def remove_like_rembg(data: bytes, params: RembgParams) -> Image.Image:
    """What ``rembg s`` answers for an image file and these parameters, made by our pipeline.

    Raises :class:`PipelineError` (a sentence for the caller) for an unusable file or parameter.
    """
    bgcolor = background_colour(params.bgc)
    extras = parse_extras(params.extras)
    if params.ae > MAX_ERODE_SIZE:
        raise BadRequestError(f"The erode size ae must be at most {MAX_ERODE_SIZE}.")
    image = load_image(bytes(data)).image
    colours = extras.get("decontaminate")
    if colours is None and (params.dc or params.vm):
        colours = "fast"
    if colours is None and extras.get("putalpha", False):
        colours = "off"
    # rembg's plain cut-out (no matting, no colour estimate) is its naive_cutout: the photo composited over
    # transparent black by the mask, which darkens soft edges. Reproduced from the mask alone.
    naive = colours is None and not (params.a or params.vm or params.om)
    cutout = remove_background(
        image, model=params.model, precision=extras.get("precision", "auto"),
        refine_edges=extras.get("refine", False), alpha_matting=params.a,
        alpha_matting_foreground_threshold=params.af, alpha_matting_background_threshold=params.ab,
        alpha_matting_erode_size=params.ae, post_process_mask=params.ppm, only_mask=params.om or naive,
        decontaminate=colours or "fast", vitmatte=params.vm)
    if params.om:
        return cutout.mask
    if naive:
        result = rembg_bg.naive_cutout(image if image.mode == "RGB" else image.convert("RGB"), cutout.mask)
    else:
        result = cutout.image
    if bgcolor is not None:
        result = rembg_bg.apply_background_color(result, bgcolor)
    return result


def _params_dependency(field: Callable[..., Any]) -> Callable[..., RembgParams]:
    """rembg's parameters read by ``field`` (``Query`` for GET, ``Form`` for POST, as rembg s reads them);
    ``bgc`` and ``extras`` are query parameters either way, as in rembg."""

    def params(
        model: str = field(DEFAULT_MODEL, description="Model to use when processing image"),
        a: bool = field(False, description="Enable Alpha Matting"),
        af: int = field(240, ge=0, le=255, description="Alpha Matting (Foreground Threshold)"),
        ab: int = field(10, ge=0, le=255, description="Alpha Matting (Background Threshold)"),
        ae: int = field(10, ge=0, description="Alpha Matting (Erode Structure Size)"),
        om: bool = field(False, description="Only Mask"),
        ppm: bool = field(False, description="Post Process Mask"),
        dc: bool = field(False, description="Decontaminate Edges (fast foreground colour estimate)"),
        vm: bool = field(False, description="Refine Edges with ViTMatte"),
        bgc: str | None = Query(None, description="Background Color, r,g,b,a"),
        extras: str | None = Query(None, description='Extra parameters as JSON: refine, precision, decontaminate, '
                                                     'putalpha, e.g. {"refine": true}'),
    ) -> RembgParams:
        return RembgParams(model, a, af, ab, ae, om, ppm, dc, vm, bgc, extras)

    return params


_query_params = _params_dependency(Query)
_form_params = _params_dependency(Form)


def _png(data: bytes, params: RembgParams) -> bytes:
    # Level 1: a 12 MP cut-out deflates several times faster than at 6, in a file ~15% larger (still lossless).
    return encode_image(remove_like_rembg(data, params), "png", png_compress_level=1)


async def _answer(data: bytes, params: RembgParams) -> Response:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(CONCURRENT_REQUESTS)
    png = await anyio.to_thread.run_sync(_png, data, params, limiter=_limiter)
    return Response(png, media_type="image/png")


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _pipeline_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PipelineError)
    return _error(403 if isinstance(error, UrlFetchDisabledError) else 400, error.message)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    name = str(first["loc"][-1]) if first.get("loc") else "request"
    if first.get("type") == "missing":
        what = "file" if name == "file" else f"parameter '{name}'"
        return _error(422, f"The {what} is missing.")
    message = str(first.get("msg", "is not valid")).rstrip(".")
    return _error(422, f"The parameter '{name}' is not valid: {message[:1].lower()}{message[1:]}.")


_STATUS_SENTENCES = {
    404: "There is nothing at this path; the API is /api/remove (POST a file, or GET with ?url=).",
    405: "That method is not served here; POST a file, or GET with ?url=, to /api/remove.",
}


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) and error.detail.endswith(".") else \
        _STATUS_SENTENCES.get(error.status_code, f"The request was refused ({error.status_code}).")
    return _error(error.status_code, detail)


async def _unexpected_error(_: Request, error: Exception) -> JSONResponse:
    log.exception("rembg API: unexpected error", exc_info=error)
    return _error(500, "The server could not process this image.")


class _UploadLimit:
    """Refuses a request body over ``limit`` bytes with a 413, before it is read into memory or spooled."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = _error(413, f"The upload is larger than {self.limit // 2**20} MB, the limit.")
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await too_large(scope, receive, send)
            return
        received = 0
        exceeded = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                exceeded = True
                raise _TooLargeError
            return message

        async def send_unless_exceeded(message: Message) -> None:
            if not exceeded:  # FastAPI may turn the interrupted read into an answer of its own: not sent
                await send(message)

        with contextlib.suppress(_TooLargeError):
            await self.app(scope, counted_receive, send_unless_exceeded)
        if exceeded:
            await too_large(scope, receive, send)


class _TooLargeError(Exception):
    pass


def rembg_api() -> FastAPI:
    """The API as an app of its own, to be mounted at ``/api`` (see :func:`routes`)."""
    api = FastAPI(title="Backdrop Studio: rembg-compatible API",
                  description="rembg's `rembg s` API (`/api/remove`) on Backdrop Studio's OpenVINO pipeline.",
                  version="2.0.86", docs_url="/", redoc_url=None, openapi_url="/openapi.json")
    api.add_middleware(_UploadLimit, limit=MAX_UPLOAD_BYTES)
    api.add_exception_handler(PipelineError, _pipeline_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    api.add_exception_handler(Exception, _unexpected_error)

    @api.get("/remove", tags=["Background Removal"], summary="Remove from URL",
             response_class=Response, responses={200: {"content": {"image/png": {}}}},
             description="Removes the background from an image obtained by retrieving an URL "
                         "(only when the server sets BACKDROP_ALLOW_URL_FETCH=1).")
    async def remove_from_url(params: Annotated[RembgParams, Depends(_query_params)],
                              url: str = Query(..., description="URL of the image that has to be processed.")
                              ) -> Response:
        data = await anyio.to_thread.run_sync(fetch_url, url)
        return await _answer(data, params)

    @api.post("/remove", tags=["Background Removal"], summary="Remove from Stream",
              response_class=Response, responses={200: {"content": {"image/png": {}}}},
              description="Removes the background from an image sent within the request itself.")
    async def remove_from_upload(params: Annotated[RembgParams, Depends(_form_params)],
                                 file: bytes = File(..., description="Image file (byte stream) that has to be "
                                                                     "processed.")) -> Response:
        return await _answer(file, params)

    return api


def routes() -> list[BaseRoute]:
    """The routes to put before Gradio's: ``/api`` (the docs) and the API mounted under it."""
    return [Route("/api", lambda _: RedirectResponse("api/"), include_in_schema=False),
            Mount("/api", app=rembg_api())]
