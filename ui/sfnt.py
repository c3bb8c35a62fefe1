"""Just enough of the OpenType file format for the kiosk: list the faces of a collection (.ttc),
read a face's character map, and copy one face out into a stand-alone font file.

Why by hand: fontTools is not a dependency, and Kivy's SDL2 text provider always opens face 0 of a
collection (Noto Sans CJK JP), while Chinese patients should read the SC face's glyph forms.
"""
from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path


class FontFileError(Exception):
    """The file is not an OpenType font or collection we can read."""


@dataclass(frozen=True)
class Face:
    index: int
    offset: int  # of its table directory in the file
    family: str  # full name from the name table, e.g. "Noto Sans CJK SC"
    tables: dict[bytes, tuple[int, int]]  # tag -> (offset, length)


def _u16(data: bytes, at: int) -> int:
    return struct.unpack_from(">H", data, at)[0]


def _u32(data: bytes, at: int) -> int:
    return struct.unpack_from(">I", data, at)[0]


def _table_directory(data: bytes, offset: int) -> dict[bytes, tuple[int, int]]:
    if offset + 12 > len(data):
        raise FontFileError("truncated table directory")
    count = _u16(data, offset + 4)
    tables = {}
    for i in range(count):
        tag, _checksum, at, length = struct.unpack_from(">4sIII", data, offset + 12 + 16 * i)
        if at + length > len(data):
            raise FontFileError(f"table {tag!r} runs past the end of the file")
        tables[tag] = (at, length)
    return tables


def _full_name(data: bytes, tables: dict[bytes, tuple[int, int]]) -> str:
    if b"name" not in tables:
        return ""
    base, _ = tables[b"name"]
    count, strings = _u16(data, base + 2), base + _u16(data, base + 4)
    found = {}
    for i in range(count):
        platform, encoding, language, name_id, length, at = struct.unpack_from(">6H", data, base + 6 + 12 * i)
        if name_id == 4 and platform == 3 and encoding in (1, 10):
            found[language] = data[strings + at:strings + at + length].decode("utf-16-be", "replace")
    return found.get(0x409) or next(iter(found.values()), "")


def read_faces(data: bytes) -> list[Face]:
    """The faces of a font file: one for .otf/.ttf, several for a .ttc collection."""
    tag = data[:4]
    if tag == b"ttcf":
        count = _u32(data, 8)
        offsets = struct.unpack_from(f">{count}I", data, 12)
    elif tag in (b"OTTO", b"\x00\x01\x00\x00", b"true"):
        offsets = (0,)
    else:
        raise FontFileError("not an OpenType/TrueType font or collection")
    faces = []
    for index, offset in enumerate(offsets):
        tables = _table_directory(data, offset)
        faces.append(Face(index, offset, _full_name(data, tables), tables))
    return faces


def _cmap_format4(data: bytes, at: int) -> set[int]:
    segments = _u16(data, at + 6) // 2
    ends, starts = at + 14, at + 16 + 2 * segments
    out: set[int] = set()
    for i in range(segments):
        end, start = _u16(data, ends + 2 * i), _u16(data, starts + 2 * i)
        if start == 0xFFFF:
            continue
        deltas = starts + 2 * segments
        delta = _u16(data, deltas + 2 * i)
        range_at = deltas + 2 * segments + 2 * i
        range_offset = _u16(data, range_at)
        for code in range(start, end + 1):
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                glyph = _u16(data, range_at + range_offset + 2 * (code - start))
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                out.add(code)
    return out


def _cmap_format12(data: bytes, at: int) -> set[int]:
    groups = _u32(data, at + 12)
    out: set[int] = set()
    for i in range(groups):
        start, end, first_glyph = struct.unpack_from(">III", data, at + 16 + 12 * i)
        out.update(code for code in range(start, end + 1) if first_glyph + code - start)
    return out


def codepoints(data: bytes, face: Face) -> set[int]:
    """Every code point the face maps to a real glyph (Windows Unicode cmap, full or BMP)."""
    if b"cmap" not in face.tables:
        raise FontFileError(f"{face.family or 'face'} has no cmap table")
    base, _ = face.tables[b"cmap"]
    subtables = {}
    for i in range(_u16(data, base + 2)):
        platform, encoding, at = struct.unpack_from(">HHI", data, base + 4 + 8 * i)
        subtables[(platform, encoding)] = base + at
    for key in ((3, 10), (0, 4), (0, 6)):
        if key in subtables and _u16(data, subtables[key]) == 12:
            return _cmap_format12(data, subtables[key])
    for key in ((3, 1), (0, 3)):
        if key in subtables and _u16(data, subtables[key]) == 4:
            return _cmap_format4(data, subtables[key])
    raise FontFileError(f"{face.family or 'face'} has no Unicode cmap we can read")


def extract_face(data: bytes, face: Face, dest: Path) -> Path:
    """Write `face` as a stand-alone font file (tables copied, offsets rebuilt), atomically."""
    tags = sorted(face.tables)
    header = bytearray(data[face.offset:face.offset + 12])
    struct.pack_into(">H", header, 4, len(tags))
    directory = bytearray()
    body = bytearray()
    start = 12 + 16 * len(tags)
    for tag in tags:
        at, length = face.tables[tag]
        checksum = _u32(data, face.offset + 12 + 16 * _index_of(data, face, tag) + 4)
        directory += struct.pack(">4sIII", tag, checksum, start + len(body), length)
        body += data[at:at + length]
        body += b"\0" * (-len(body) % 4)  # tables start on 4-byte boundaries
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name, dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(header) + bytes(directory) + bytes(body))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a font is not a secret
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def _index_of(data: bytes, face: Face, tag: bytes) -> int:
    for i in range(_u16(data, face.offset + 4)):
        if data[face.offset + 12 + 16 * i:face.offset + 16 + 16 * i] == tag:
            return i
    raise KeyError(tag)


def load(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise FontFileError(f"cannot read {path}: {exc.strerror}") from None
