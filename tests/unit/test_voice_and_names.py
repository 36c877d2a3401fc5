"""Voice notes' length from their own headers (haven_client.audio) and safe local names for
sender-chosen file names (haven_client.filenames)."""

from __future__ import annotations

from pathlib import Path

import pytest

from haven_client.audio import AudioInfo, probe
from haven_client.export import clock
from haven_client.filenames import NameBook, safe_name
from tests.support import audiofiles


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("note.opus", audiofiles.ogg_opus(41_250), AudioInfo("audio/ogg", 41_250)),
        ("note.ogg", audiofiles.ogg_opus(1_500, pre_skip=3840), AudioInfo("audio/ogg", 1_500)),
        ("vorbis.ogg", audiofiles.ogg_vorbis(12_000), AudioInfo("audio/ogg", 12_000)),
        ("note.wav", audiofiles.wav(2_500), AudioInfo("audio/wav", 2_500)),
        ("note.webm", audiofiles.webm(7_321), AudioInfo("audio/webm", 7_321)),
        ("note.m4a", audiofiles.mp4(65_000), AudioInfo("audio/mp4", 65_000)),
    ],
)
def test_the_length_of_a_voice_note_comes_from_its_headers(
    tmp_path: Path, name: str, data: bytes, expected: AudioInfo
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert probe(path) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (audiofiles.webm(None), AudioInfo("audio/webm", None)),  # MediaRecorder: no Duration
        (audiofiles.ogg_opus(1_000)[:47], AudioInfo("audio/ogg", None)),  # only the first page
        (b"RIFF\x00\x00\x00\x00WAVEdata", AudioInfo("audio/wav", None)),  # no format chunk
        (audiofiles.webm(5_000, track_types=(1, 2)), None),  # a video
        (audiofiles.mp4(5_000, handlers=(b"vide", b"soun")), None),  # a video
        (b"%PDF-1.7\n" + bytes(3000), None),
        (b"", None),
    ],
)
def test_no_length_is_guessed(tmp_path: Path, data: bytes, expected: AudioInfo | None) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    assert probe(path) == expected


def test_a_voice_note_length_reads_as_a_clock() -> None:
    assert [clock(ms) for ms in (0, 41_250, 723_000, 3_723_000)] == [
        "0:00",
        "0:41",
        "12:03",
        "1:02:03",
    ]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("worksheet.pdf", "worksheet.pdf"),
        ("../../.bashrc", "bashrc"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("C:\\Users\\sam\\evil.exe", "evil.exe"),
        ("/etc/passwd", "passwd"),
        ("report.pdf\x00.exe", "report.pdf_.exe"),
        ("a\u202egpj.exe", "a_gpj.exe"),  # right-to-left override: shown reversed elsewhere
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("notes. ", "notes"),
        ('what?:*"<>|.txt', "what_______.txt"),
    ],
)
def test_sender_chosen_names_become_harmless(sent: object, kept: str) -> None:
    assert safe_name(sent) == kept


def test_long_names_are_shortened_keeping_the_extension() -> None:
    name = safe_name("ü" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 120


def test_names_in_one_folder_never_collide(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("already here")
    book = NameBook(tmp_path)
    paths = [book.claim(n) for n in ("notes.txt", "NOTES.txt", "notes.txt", "../notes.txt", "x")]
    assert [p.name for p in paths] == [
        "notes (2).txt",
        "NOTES (3).txt",
        "notes (4).txt",
        "notes (5).txt",
        "x",
    ]
    assert all(p.parent == tmp_path for p in paths)
