"""Case files and answers that are not what they claim: too large, endless, not files at all.

Each is refused with exit code 2 and a message naming the file or field and what to do, never
with a traceback, a hang or a value from the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from safepassage.cli.common import read_document
from safepassage.models.errors import IntakeInvalid
from safepassage.models.intake import MAX_DOCUMENT_BYTES
from tests.cli.helpers import run_cli
from tests.factories import intake_document

FIFTY_MB = 50 * 1024 * 1024


def test_only_one_byte_past_the_limit_is_read_from_a_large_file(tmp_path: Path) -> None:
    large = tmp_path / "large.json"
    with large.open("wb") as handle:
        handle.truncate(FIFTY_MB)  # sparse: 50 MB on paper, nothing on disk
    assert len(read_document(large, source="case file")) == MAX_DOCUMENT_BYTES + 1


def test_a_50_mb_case_file_is_refused_as_too_large(tmp_path: Path, home: Path) -> None:
    large = tmp_path / "large.json"
    with large.open("wb") as handle:
        handle.truncate(FIFTY_MB)
    result = run_cli("intake", str(large), "--dry-run")
    assert result.code == 2, result.stderr
    assert "case file is larger than 256 KiB" in result.stderr
    assert "Traceback" not in result.stderr


def test_dev_zero_is_refused_as_not_a_regular_file(home: Path) -> None:
    result = run_cli("intake", "/dev/zero", "--dry-run")
    assert result.code == 2, result.stderr
    assert "/dev/zero is not a regular file" in result.stderr
    assert "save the case file as a file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_fifo_is_refused_at_once_rather_than_waited_on(tmp_path: Path, home: Path) -> None:
    fifo = tmp_path / "case.json"
    os.mkfifo(fifo)
    result = run_cli("intake", str(fifo), "--dry-run")  # no writer ever comes
    assert result.code == 2, result.stderr
    assert f"{fifo} is not a regular file" in result.stderr


def test_an_answer_from_a_fifo_is_refused_too(tmp_path: Path, home: Path) -> None:
    fifo = tmp_path / "answer.json"
    os.mkfifo(fifo)
    with pytest.raises(IntakeInvalid, match=r"answer\.json is not a regular file") as caught:
        read_document(fifo, source="answer")
    assert caught.value.source == "answer"


def test_a_folder_is_refused_naming_it(tmp_path: Path, home: Path) -> None:
    result = run_cli("intake", str(tmp_path), "--dry-run")
    assert result.code == 2
    assert f"{tmp_path} is a folder, not a file" in result.stderr


@pytest.mark.parametrize(
    "number",
    ["9" * 5000, "-" + "9" * 5000, "1" + "0" * 5000 + ".5", "1e999", "NaN", "-Infinity"],
    ids=["5000 digits", "negative", "long float", "infinite", "NaN", "-Infinity"],
)
def test_an_absurd_number_in_a_case_file_is_refused_naming_its_field(
    tmp_path: Path, home: Path, number: str
) -> None:
    document = json.dumps(intake_document("BG"))
    marker = '"+359 888 407 613"'  # the phone number, replaced by the number
    assert marker in document
    case_file = tmp_path / "case.json"
    case_file.write_text(document.replace(marker, number))
    result = run_cli("intake", str(case_file), "--dry-run")
    assert result.code == 2, result.stderr
    assert "beneficiary.phone: must be a plain number of at most 40 characters" in result.stderr
    assert "Traceback" not in result.stderr
    assert "9999" not in result.stderr + result.stdout  # the value is never echoed
