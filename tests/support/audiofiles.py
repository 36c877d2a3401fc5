"""Small audio files written by their formats' specifications, for the voice-note tests: no
encoder is installed here, so the containers are built byte by byte — Ogg pages with their
CRC (RFC 3533) around an Opus or Vorbis identification header (RFC 7845, Vorbis I), EBML for
WebM, ISO BMFF boxes for MP4 — and WAV by Python's own ``wave`` module. The audio packets
are silence-sized filler: what the probe reads is the containers' timing, as a player does."""

from __future__ import annotations

import io
import struct
import wave


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def ogg_page(packet: bytes, granule: int, sequence: int, flags: int = 0, serial: int = 7) -> bytes:
    """One Ogg page holding one whole packet (lacing values of 255 and a remainder)."""
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = struct.pack(
        "<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing)
    ) + bytes(lacing)
    page = bytearray(header + packet)
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    return bytes(page)


def ogg_opus(duration_ms: int, pre_skip: int = 312, pages: int = 5) -> bytes:
    """An Ogg Opus file whose last granule position says ``duration_ms`` at 48 kHz."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 5) + b"haven" + struct.pack("<I", 0)
    out = [ogg_page(head, 0, 0, flags=2), ogg_page(tags, 0, 1)]
    total = pre_skip + duration_ms * 48
    for n in range(pages):
        granule = pre_skip + (total - pre_skip) * (n + 1) // pages
        flags = 4 if n == pages - 1 else 0
        out.append(ogg_page(b"\xfc" + bytes(40), granule, n + 2, flags=flags))
    return b"".join(out)


def ogg_vorbis(duration_ms: int, rate: int = 44100) -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 1, rate, 0, 128000, 0, 0xB8, 1)
    samples = duration_ms * rate // 1000
    return ogg_page(ident, 0, 0, flags=2) + ogg_page(bytes(60), samples, 1, flags=4)


def wav(duration_ms: int, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as sink:
        sink.setnchannels(1)
        sink.setsampwidth(2)
        sink.setframerate(rate)
        sink.writeframes(bytes(2 * rate * duration_ms // 1000))
    return out.getvalue()


def _ebml_size(n: int) -> bytes:
    return (n | (1 << 56)).to_bytes(8, "big")  # 8-byte size descriptor: any length


def _el(element_id: int, body: bytes) -> bytes:
    return (
        element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
        + _ebml_size(len(body))
        + body
    )


def webm(duration_ms: int | None, track_types: tuple[int, ...] = (2,)) -> bytes:
    """A WebM file: EBML header, Segment > Info (TimestampScale 1 ms, Duration unless None —
    as browsers' MediaRecorder leaves it out), Tracks, one Cluster."""
    header = _el(0x1A45DFA3, _el(0x4282, b"webm") + _el(0x4287, b"\x04"))
    info = _el(0x2AD7B1, (1_000_000).to_bytes(3, "big"))
    if duration_ms is not None:
        info += _el(0x4489, struct.pack(">d", float(duration_ms)))
    tracks = b"".join(
        _el(0xAE, _el(0xD7, bytes([n + 1])) + _el(0x83, bytes([kind])))
        for n, kind in enumerate(track_types)
    )
    cluster = _el(0x1F43B675, _el(0xE7, b"\x00") + _el(0xA3, b"\x81\x00\x00\x80" + bytes(50)))
    return header + _el(0x18538067, _el(0x1549A966, info) + _el(0x1654AE6B, tracks) + cluster)


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def mp4(
    duration_ms: int, handlers: tuple[bytes, ...] = (b"soun",), timescale: int = 44100
) -> bytes:
    """An MP4 file: ftyp, moov (mvhd version 0, one trak per handler), mdat."""
    ftyp = _box(b"ftyp", b"M4A \x00\x00\x00\x00M4A isom")
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, timescale, duration_ms * timescale // 1000) + bytes(80),
    )
    traks = b"".join(
        _box(b"trak", _box(b"mdia", _box(b"hdlr", bytes(8) + handler + bytes(13))))
        for handler in handlers
    )
    return ftyp + _box(b"moov", mvhd + traks) + _box(b"mdat", bytes(100))
