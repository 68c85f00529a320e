"""The bad-input corpus (tests/corpus.py) through the pipeline and through the launched app's API.

Every case ends in a clear message (a sentence with the expected words, never a traceback) or a correct result;
afterwards the server still answers. Each part loops over all the cases and reports every failing one at once
(the corpus is generated at test time, so its cases are not known when tests are collected).

Through the pipeline: ``load_image``, then ``remove_background`` with u2netp; the too-large-for-×4 photo is also
refused by ``upscale``, and the all-transparent cut-out by ``compose``. Through the API: ``/remove_background``
with u2netp, except those two, which go to ``/enhance_resolution`` (×4) and ``/superimpose`` (colour background).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipeline.background import remove_background
from pipeline.compose import compose
from pipeline.errors import ImageInputError
from pipeline.intake import load_image
from pipeline.superres import UpscaleTooLargeError, upscale
from tests.corpus import Case, write_corpus

MODEL = "u2netp"
TOO_LARGE = "the limit is 64 MP"  # what refusing the ×4 upscale must say
NOTHING_TO_PLACE = "fully transparent"  # what refusing to composite an empty cut-out must say


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Case, Path]]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def assert_clear_message(message: str, words: str) -> None:
    """A sentence written for a person: the expected words, a capital and a full stop, no traceback or bare "Error"."""
    assert words in message, message
    assert message[:1].isupper() and message.endswith("."), message
    assert "Traceback" not in message and 'File "' not in message and len(message) < 300, message


def each_case(cases: list[tuple[Case, Path]], check: Callable[[Case, Path], None]) -> Iterator[str]:
    """Run ``check`` on every case; yield "name: what went wrong" for each one that fails."""
    for case, path in cases:
        try:
            check(case, path)
        except (Exception, pytest.fail.Exception) as error:  # a crash or a missing refusal: a finding, go on
            first_line = next(iter(str(error).splitlines()), "")  # pytest's assertion detail follows it
            yield f"{case.name}: {type(error).__name__}: {first_line}"


def check_cutout(loaded: Image.Image, cutout: Image.Image, size: tuple[int, int]) -> None:
    """A correct cut-out: RGBA, upright size, the input's own colours where it is opaque (soft pixels carry the
    estimated foreground colour), transparent wherever the input was."""
    assert cutout.mode == "RGBA" and cutout.size == size, (cutout.mode, cutout.size)
    pixels = np.asarray(cutout)
    opaque = pixels[..., 3] == 255
    assert np.array_equal(pixels[opaque, :3], np.asarray(loaded.convert("RGBA"))[opaque, :3]), "colours changed"
    if loaded.mode == "RGBA":  # the mask can only take away from the input's own alpha
        own_alpha = np.asarray(loaded.getchannel("A"), np.int16)
        assert (pixels[..., 3] <= own_alpha + 1).all(), "more opaque than the input"


def test_every_case_through_the_pipeline(cases: list[tuple[Case, Path]]) -> None:
    def check(case: Case, path: Path) -> None:
        if case.rejected_with is not None:
            with pytest.raises(ImageInputError) as refused:
                load_image(path)
            assert_clear_message(refused.value.message, case.rejected_with)
            return
        loaded = load_image(path)
        image = loaded.image
        assert image.size == case.size and image.mode in ("RGB", "RGBA"), (image.size, image.mode)
        if case.note:
            assert any(case.note in note for note in loaded.notes), loaded.notes
        else:
            assert not loaded.notes, loaded.notes
        cutout = remove_background(image, model=MODEL)
        check_cutout(image, cutout.image, case.size)
        assert cutout.mask.mode == "L" and np.array_equal(np.asarray(cutout.mask), np.asarray(cutout.image)[..., 3])
        if case.too_large_for_x4:
            with pytest.raises(UpscaleTooLargeError) as refused:
                upscale(image, 4)
            assert_clear_message(refused.value.message, TOO_LARGE)
        if case.nothing_to_place:
            assert cutout.mask.getextrema() == (0, 0)
            with pytest.raises(ImageInputError) as refused:
                compose(image, (255, 255, 255))
            assert_clear_message(refused.value.message, NOTHING_TO_PLACE)

    problems = list(each_case(cases, check))
    assert not problems, "\n".join(problems)


def test_every_case_through_the_api(cases: list[tuple[Case, Path]], client: Client) -> None:
    def check(case: Case, path: Path) -> None:
        upload = handle_file(str(path))
        if case.too_large_for_x4:
            with pytest.raises(AppError) as refused:
                client.predict(upload, 4, api_name="/enhance_resolution")
            assert_clear_message(refused.value.message, TOO_LARGE)
        elif case.nothing_to_place:
            with pytest.raises(AppError) as refused:
                client.predict(upload, background_kind="color", api_name="/superimpose")
            assert_clear_message(refused.value.message, NOTHING_TO_PLACE)
        elif case.rejected_with is not None:
            with pytest.raises(AppError) as refused:
                client.predict(upload, model=MODEL, api_name="/remove_background")
            assert_clear_message(refused.value.message, case.rejected_with)
        else:
            _, png, _, summary = client.predict(upload, model=MODEL, api_name="/remove_background")
            served = Image.open(png)
            assert served.format == "PNG", served.format
            # The same cut-out as the pipeline makes of the same file in this process.
            expected = remove_background(load_image(path).image, model=MODEL).image
            assert served.size == expected.size == case.size and served.mode == "RGBA", (served.size, served.mode)
            served_pixels, expected_pixels = np.asarray(served, np.int16), np.asarray(expected, np.int16)
            assert np.abs(served_pixels[..., 3] - expected_pixels[..., 3]).max() <= 1
            # Every pixel that shows is as in-process; the file drops the colour under alpha 0, as rembg does.
            both_show = np.minimum(served_pixels[..., 3], expected_pixels[..., 3]) > 0
            assert np.abs(served_pixels[both_show] - expected_pixels[both_show]).max(initial=0) <= 1
            assert not served_pixels[served_pixels[..., 3] == 0].any()
            assert f"{case.size[0]}×{case.size[1]} px" in summary, summary

    problems = list(each_case(cases, check))
    assert not problems, "\n".join(problems)


def test_server_still_answers_afterwards(client: Client) -> None:
    assert client.predict(api_name="/models")["data"]
    _, png, _, _ = client.predict(handle_file(str(SAMPLES / "chelsea.jpg")), model=MODEL,
                                  api_name="/remove_background")
    cutout = Image.open(png)
    assert cutout.mode == "RGBA" and cutout.size == (451, 300)
    alpha = np.asarray(cutout.getchannel("A"))
    assert (alpha == 0).any() and (alpha == 255).any()  # a real cut-out: some background gone, the cat kept
