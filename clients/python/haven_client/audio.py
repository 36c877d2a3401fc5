"""A voice note's type and length, read from the audio file's own headers (no decoder, no new
dependency), for the ``duration_ms`` a voice note carries (docs/attachments.md).

Recognised: Ogg (Opus, Vorbis), WAV (PCM and others with a byte rate), WebM/Matroska (its
``Duration``), MP4/M4A (``mvhd``) — each only when the file holds audio and no video; anything
else is ``None``. A length the headers do not state is ``None`` too: it is never guessed.
Browsers' MediaRecorder WebM has no ``Duration`` element, so such a file needs an explicit
length (``haven send --duration``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TAIL = 256 * 1024  # the last Ogg page (granule position) lies within this
HEAD = 4 * 1024 * 1024  # the headers of WAV, WebM and MP4 files lie within this (else: None)


@dataclass(frozen=True)
class AudioInfo:
    mime: str
    duration_ms: int | None  # None: audio, but its headers do not state its length


def probe(path: Path) -> AudioInfo | None:
    """The file's audio type and length (if its headers say), or None if it is not audio."""
    try:
        with path.open("rb") as source:
            head = source.read(HEAD)
            size = path.stat().st_size
            source.seek(max(0, size - TAIL))
            tail = source.read(TAIL)
    except OSError:
        return None
    for reader in (_ogg, _wav, _matroska, _mp4):
        try:
            found = reader(head, tail)
        except (struct.error, IndexError, ValueError, ZeroDivisionError, OverflowError):
            found = None
        if found is not None:
            known = found.duration_ms is not None and found.duration_ms > 0
            return found if known else AudioInfo(found.mime, None)
    return None


# --- Ogg: the last page's granule position, less Opus's pre-skip, over the sample rate ------


def _ogg(head: bytes, tail: bytes) -> AudioInfo | None:
    if not head.startswith(b"OggS"):
        return None
    body = head[27 + head[26] :]  # the first page's packet: the codec's identification header
    if body.startswith(b"OpusHead"):
        pre_skip = struct.unpack_from("<H", body, 10)[0]
        rate, mime = 48000, "audio/ogg"  # Opus granules always count 48 kHz samples
    elif body.startswith(b"\x01vorbis"):
        pre_skip, rate, mime = 0, struct.unpack_from("<I", body, 12)[0], "audio/ogg"
    else:
        return None
    # The last page that ends a packet (granule -1 means none does); "OggS" followed by
    # stream version 0 marks a page.
    at = len(tail)
    while (at := tail.rfind(b"OggS\x00", 0, at)) >= 0:
        if at + 14 <= len(tail):
            granule = struct.unpack_from("<q", tail, at + 6)[0]
            if granule >= 0:
                if granule <= pre_skip or rate <= 0:
                    return AudioInfo(mime, None)
                return AudioInfo(mime, round((granule - pre_skip) * 1000 / rate))
    return AudioInfo(mime, None)


# --- WAV: the data chunk's size over the format's byte rate --------------------------------


def _wav(head: bytes, tail: bytes) -> AudioInfo | None:
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(head):
        chunk, length = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        if chunk == b"fmt ":
            byte_rate = struct.unpack_from("<I", head, offset + 16)[0]
        elif chunk == b"data":
            if not byte_rate:
                return AudioInfo("audio/wav", None)
            return AudioInfo("audio/wav", round(length * 1000 / byte_rate))
        offset += 8 + length + (length & 1)
    return AudioInfo("audio/wav", None)


# --- Matroska/WebM: Segment > Info > TimestampScale and Duration; Tracks > TrackType ---------

_EBML, _SEGMENT, _INFO, _TRACKS, _TRACK_ENTRY = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x1654AE6B, 0xAE
_SCALE, _DURATION, _TRACK_TYPE, _DOC_TYPE = 0x2AD7B1, 0x4489, 0x83, 0x4282
_UNKNOWN = -1


def _vint(data: bytes, at: int, keep_marker: bool) -> tuple[int, int]:
    first = data[at]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("bad EBML number")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[at + 1 : at + length]:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = _UNKNOWN  # "unknown size" (a live recording's Segment or Cluster)
    return value, at + length


def _elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, data start, data end) of the elements between start and end, as they come."""
    at = start
    while at < end:
        element, at = _vint(data, at, keep_marker=True)
        size, at = _vint(data, at, keep_marker=False)
        stop = end if size == _UNKNOWN else min(end, at + size)
        yield element, at, stop
        at = stop


def _matroska(head: bytes, tail: bytes) -> AudioInfo | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    top = list(_elements(head, 0, len(head)))
    if not top or top[0][0] != _EBML:
        return None
    doc_types = [head[s:e] for i, s, e in _elements(head, top[0][1], top[0][2]) if i == _DOC_TYPE]
    mime = "audio/webm" if doc_types == [b"webm"] else "audio/x-matroska"
    segment = next(((s, e) for i, s, e in top if i == _SEGMENT), None)
    if segment is None:
        return None
    scale, duration, kinds = 1_000_000, None, []
    for element, start, stop in _elements(head, *segment):
        if element == _INFO:
            for inner, s, e in _elements(head, start, stop):
                if inner == _SCALE:
                    scale = int.from_bytes(head[s:e], "big")
                elif inner == _DURATION:
                    duration = struct.unpack(">f" if e - s == 4 else ">d", head[s:e])[0]
        elif element == _TRACKS:
            for entry, s, e in _elements(head, start, stop):
                if entry == _TRACK_ENTRY:
                    kinds += [
                        int.from_bytes(head[a:b], "big")
                        for kind, a, b in _elements(head, s, e)
                        if kind == _TRACK_TYPE
                    ]
        elif element == 0x1F43B675:  # Cluster: the headers are over
            break
    if not kinds or set(kinds) != {2}:  # 2: audio
        return None
    return AudioInfo(mime, _milliseconds(duration, scale))


def _milliseconds(duration: float | None, scale: int) -> int | None:
    """Duration in TimestampScale units as milliseconds; None when the header's numbers are
    not a length (infinite, NaN, or too large for a float): the file is audio all the same."""
    if duration is None or not math.isfinite(duration) or scale > 1 << 53:
        return None
    total = duration * scale / 1_000_000
    return round(total) if math.isfinite(total) else None


# --- MP4/M4A: moov > mvhd (timescale, duration); every trak's handler is "soun" -------------


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    found, at = [], start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header:
            raise ValueError("bad MP4 box")
        found.append((kind, at + header, min(end, at + size)))
        at += size
    return found


def _mp4(head: bytes, tail: bytes) -> AudioInfo | None:
    if head[4:8] != b"ftyp":
        return None
    moov = next(((s, e) for k, s, e in _boxes(head, 0, len(head)) if k == b"moov"), None)
    if moov is None:
        return None  # moov after a large mdat: not within the head
    timescale = duration = 0
    handlers = []
    for kind, start, stop in _boxes(head, *moov):
        if kind == b"mvhd":
            if head[start] == 1:
                timescale, duration = struct.unpack_from(">IQ", head, start + 20)
            else:
                timescale, duration = struct.unpack_from(">II", head, start + 12)
        elif kind == b"trak":
            for inner, s, e in _boxes(head, start, stop):
                if inner == b"mdia":
                    handlers += [
                        head[a + 8 : a + 12] for h, a, _ in _boxes(head, s, e) if h == b"hdlr"
                    ]
    if not handlers or set(handlers) != {b"soun"}:
        return None
    return AudioInfo("audio/mp4", round(duration * 1000 / timescale) if timescale else None)
