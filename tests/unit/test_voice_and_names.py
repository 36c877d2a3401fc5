"""Voice notes' length from their own headers (haven_client.audio) and safe local names for
sender-chosen file names (haven_client.filenames)."""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import pytest

from haven_client.audio import AudioInfo, probe
from haven_client.cli.app import main
from haven_client.cli.filelines import file_lines
from haven_client.export import clock
from haven_client.filenames import NameBook, safe_name
from haven_crypto.attachments import AttachmentError, AttachmentRef
from haven_crypto.crypto import b64e
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


def _webm_with_info(info: bytes) -> bytes:
    tracks = audiofiles._el(0xAE, audiofiles._el(0x83, b"\x02"))
    segment = audiofiles._el(0x1549A966, info) + audiofiles._el(0x1654AE6B, tracks)
    header = audiofiles._el(0x1A45DFA3, audiofiles._el(0x4282, b"webm"))
    return header + audiofiles._el(0x18538067, segment)


@pytest.mark.parametrize(
    "info",
    [
        audiofiles._el(0x4489, struct.pack(">d", math.inf)),  # an infinite Duration
        audiofiles._el(0x4489, struct.pack(">d", math.nan)),
        audiofiles._el(0x4489, struct.pack(">d", 1e308))  # finite, but times the scale: inf
        + audiofiles._el(0x2AD7B1, (10**9).to_bytes(4, "big")),
        audiofiles._el(0x2AD7B1, b"\xff" * 400)  # a TimestampScale no float can hold
        + audiofiles._el(0x4489, struct.pack(">d", 5.0)),
    ],
)
def test_a_hostile_webm_length_is_unknown_not_a_crash(tmp_path: Path, info: bytes) -> None:
    path = tmp_path / "note.webm"
    path.write_bytes(_webm_with_info(info))
    assert probe(path) == AudioInfo("audio/webm", None)


def test_mangled_audio_headers_never_raise(tmp_path: Path) -> None:
    """Every sample with bytes flipped, cut or repeated: an answer (maybe None), never an error
    and never a hang."""
    rng = random.Random(22)
    samples = [
        audiofiles.ogg_opus(41_250),
        audiofiles.ogg_vorbis(12_000),
        audiofiles.wav(2_500),
        audiofiles.webm(7_321),
        audiofiles.mp4(65_000),
    ]
    path = tmp_path / "note.bin"
    for sample in samples:
        for _ in range(300):
            data = bytearray(sample)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.choice((0x00, 0xFF, 0x01, 0x80, 0x7F))
            cut = bytes(data[: rng.randint(1, len(data))])
            path.write_bytes(cut)
            found = probe(path)
            assert found is None or found.duration_ms is None or found.duration_ms > 0


@pytest.mark.parametrize("field", ["size", "duration_ms"])
def test_a_sender_cannot_crash_the_history_with_a_huge_number(field: str) -> None:
    """A counterpart controls the payload: a size or length past what JSON carries exactly is a
    malformed entry (shown as such), never an OverflowError in `haven history` or the export."""
    entry = {
        "attachment_id": "a" * 22,
        "key": b64e(bytes(32)),
        "sha256": b64e(bytes(32)),
        "mime": "audio/ogg",
        "name": "note.ogg",
        "size": 1000,
        "duration_ms": 41_250,
    }
    assert file_lines({"attachments": [entry]}) == ["[voice note 0:41] note.ogg"]
    entry[field] = 10**400
    assert file_lines({"attachments": [entry]}) == ["[files that could not be read]"]
    with pytest.raises(AttachmentError):
        AttachmentRef.from_payload(entry)


@pytest.mark.parametrize("seconds", ["inf", "nan", "1e300", "0", "-3"])
def test_a_duration_that_is_no_length_is_refused_before_anything_is_sent(
    tmp_path: Path,
    seconds: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    note = tmp_path / "note.wav"
    note.write_bytes(audiofiles.wav(2_500))
    code = main(["send", "c1", "--file", str(note), "--duration", seconds])
    assert code == 2
    assert "--duration" in capsys.readouterr().err
