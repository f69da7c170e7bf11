"""A local tree as one bulk-upload stream (FileService.UploadArchive).

scan() walks the tree under the ignore rules and says what will be sent and
what will not (and why); ArchiveWriter turns the scan into ArchiveChunk
messages: batches of entries of about 1 MiB, each zlib-compressed when a
sample shows it pays (already compressed or random data is sent as is).
Shared by the sync and async clients.
"""

from __future__ import annotations

import os
import stat
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from . import _ignore
from ._proto.sandbox.v1 import files_pb2
from .exceptions import InvalidConfigurationError, UploadError
from .types import SkippedFile, UploadProgress

BATCH_BYTES = 1 << 20
MIN_PIECE = 64 * 1024
# Pieces this big are read into one reused buffer and sent at once: fresh
# megabyte buffers for every message made the heap grow and shrink under
# some allocation patterns (page faults cut the rate several times over).
BIG_PIECE = 256 * 1024
MAX_BATCH_ENTRIES = 4096
SAMPLE_BYTES = 4096
# A big file's compressibility is sampled again after this many bytes.
RESAMPLE_BYTES = 8 << 20
# A sample that deflates to more than this is not worth compressing.
WORTH_RATIO = 0.9
# File types that are compressed already.
COMPRESSED_SUFFIXES = frozenset(
    ".gz .tgz .bz2 .xz .zst .zip .jar .whl .7z .rar .png .jpg .jpeg .gif "
    ".webp .mp3 .mp4 .mkv .mov .avi .pdf .woff .woff2".split())

COMPRESSION_CHOICES = ("auto", "zlib", "none")
LARGE_FILE_CHOICES = ("warn", "error", "skip")

ProgressFn = Callable[[UploadProgress], None]


@dataclass
class LocalEntry:
    rel: str            # workspace path without the leading "/"
    path: str           # on this machine
    is_dir: bool
    size: int = 0
    mode: int = 0o644


@dataclass
class Scan:
    root: str
    entries: List[LocalEntry] = field(default_factory=list)
    skipped: List[SkippedFile] = field(default_factory=list)
    files: int = 0
    bytes: int = 0


def _is_virtualenv(items: List["os.DirEntry[str]"]) -> bool:
    """A directory holding pyvenv.cfg, from its listing."""
    return any(de.name == "pyvenv.cfg" and de.is_file(follow_symlinks=False)
               for de in items)


class _Walker:
    def __init__(self, root: str, layers: List[_ignore.Layer],
                 use_gitignore: bool, tail: List[_ignore.Layer],
                 max_file_size: Optional[int]) -> None:
        self.root = root
        self.layers = layers
        self.use_gitignore = use_gitignore
        self.tail = tail            # the caller's patterns: always last
        self.max_file_size = max_file_size
        self.scan = Scan(root)

    def skip(self, rel: str, reason: str, size: int = 0) -> None:
        self.scan.skipped.append(SkippedFile(rel, reason, size))

    def walk(self, dirpath: str, rel_dir: str) -> Optional[bool]:
        """Entries of one directory; True if anything below is kept, None
        for a virtualenv (left out whole)."""
        try:
            with os.scandir(dirpath) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise UploadError(rel_dir or ".", f"cannot read directory: {exc}") from None
        if rel_dir and _is_virtualenv(items):
            return None
        pushed = 0
        if self.use_gitignore:
            # Only those the listing has: opening absent ones raised an
            # exception twice per directory.
            present = {de.name for de in items if de.name in _ignore.IGNORE_FILES}
            for name in _ignore.IGNORE_FILES:
                layer = _ignore.read_layer(os.path.join(dirpath, name), rel_dir) \
                    if name in present else None
                if layer:
                    self.layers.append(layer)
                    pushed += 1
        kept = False
        rules = self.layers + self.tail
        for de in items:
            rel = f"{rel_dir}/{de.name}" if rel_dir else de.name
            kept |= self.entry(de, rel, rules)
        del self.layers[len(self.layers) - pushed:]
        return kept

    def entry(self, de: "os.DirEntry[str]", rel: str, rules) -> bool:
        st = de.stat(follow_symlinks=False)
        is_dir = stat.S_ISDIR(st.st_mode)
        if _ignore.ignored(rules, rel, de.name, is_dir):
            return False
        if stat.S_ISLNK(st.st_mode):
            self.skip(rel, "symbolic link (not stored: it could point anywhere)")
            return False
        if is_dir:
            below = self.walk(de.path, rel)
            if below is None:
                return False
            if not below:
                self.scan.entries.append(LocalEntry(rel, de.path, True))
            return True
        if not stat.S_ISREG(st.st_mode):
            self.skip(rel, "special file")
            return False
        if self.max_file_size is not None and st.st_size > self.max_file_size:
            self.skip(rel, f"larger than the file size limit ({self.max_file_size} bytes)",
                      st.st_size)
            return False
        self.scan.entries.append(LocalEntry(rel, de.path, False, st.st_size,
                                            st.st_mode & 0o777))
        self.scan.files += 1
        self.scan.bytes += st.st_size
        return True


def scan(root: str, *, ignore_patterns: Optional[Sequence[str]] = None,
         use_gitignore: bool = True, use_default_ignores: bool = True,
         max_file_size: Optional[int] = None) -> Scan:
    """What an upload of root sends: files (and empty directories) in
    walk order, and what it leaves out and why (symbolic links, special
    files, files above max_file_size). Ignored paths are not listed."""
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise InvalidConfigurationError(f"not a directory: {root!r}")
    if isinstance(ignore_patterns, str):
        raise InvalidConfigurationError("ignore_patterns must be a list of patterns")
    layers: List[_ignore.Layer] = []
    if use_default_ignores:
        layers.append(_ignore.Layer.from_lines("", _ignore.DEFAULT_IGNORES, "defaults"))
    if use_gitignore:
        exclude = _ignore.read_layer(os.path.join(root, ".git", "info", "exclude"), "")
        if exclude:
            layers.append(exclude)
    tail = [_ignore.Layer.from_lines("", ignore_patterns, "ignore_patterns")] \
        if ignore_patterns else []
    w = _Walker(root, layers, use_gitignore, tail, max_file_size)
    w.walk(root, "")
    return w.scan


def _worth_compressing(data: bytes) -> bool:
    mid = max(0, len(data) // 2 - SAMPLE_BYTES // 2)
    sample = data[mid:mid + SAMPLE_BYTES]
    return len(zlib.compress(sample, 1)) < WORTH_RATIO * len(sample)


# -- the wire, by hand --------------------------------------------------------
# File content is copied once into the message the channel sends: building
# protobuf objects around megabytes of data costs several copies (measured:
# the bulk path ran at a seventh of the speed). Field numbers are those of
# files.proto; tests parse what is built here with the generated classes.

_ONE_BYTE = [bytes((i,)) for i in range(128)]


def _varint(n: int) -> bytes:
    if n < 128:
        return _ONE_BYTE[n]                # keys, types, modes: most calls
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


_VARINT, _LEN = 0, 2


def _len_field(field: int, payload_len: int) -> bytes:
    return _key(field, _LEN) + _varint(payload_len)


def _int_field(field: int, value: int) -> bytes:
    return _key(field, _VARINT) + _varint(value) if value else b""


def entry_parts(path: str, type_: int, mode: int, size: int, data: bytes) -> List[bytes]:
    """An ArchiveEntry (a new entry when path is set, else a continuation),
    as the parts of one `entries` field of an ArchiveBatch."""
    head = b""
    if path:
        p = path.encode()
        head = (_len_field(1, len(p)) + p + _int_field(2, type_) + _int_field(3, mode)
                + _int_field(4, size))
    if data:
        head += _len_field(5, len(data))
    return [_len_field(1, len(head) + len(data)) + head, data]


def header_chunk(codebase_id: str, per_file_results: bool) -> bytes:
    cid = codebase_id.encode()
    header = _len_field(1, len(cid)) + cid + _int_field(2, int(per_file_results))
    return _len_field(1, len(header)) + header


def batch_chunk(parts: List[bytes], compress: bool) -> Tuple[bytes, int]:
    """An ArchiveChunk holding the batch made of parts; (message, batch bytes
    on the wire)."""
    size = sum(map(len, parts))
    if compress:
        body = [zlib.compress(b"".join(parts), 1)]
        tail = _int_field(3, files_pb2.ARCHIVE_ENCODING_ZLIB) + _int_field(4, size)
    else:
        body = parts
        tail = _int_field(4, size)
    wire = sum(map(len, body))
    return b"".join([_len_field(2, wire)] + body + [tail]), wire


END_CHUNK = _int_field(5, 1)


def _read_exactly(fd: int, view: memoryview) -> memoryview:
    got = 0
    while got < len(view):
        n = os.readv(fd, [view[got:]])
        if not n:
            break
        got += n
    return view[:got]


class ArchiveWriter:
    """The messages of one upload (encoded ArchiveChunks), made as they are
    consumed.

    Each file is read when its turn comes: one that changes size while it
    is read fails the upload (UploadError) rather than being stored torn.
    """

    def __init__(self, codebase_id: str, scan_: Scan, *, compression: str = "auto",
                 progress: Optional[ProgressFn] = None,
                 per_file_results: bool = False) -> None:
        if compression not in COMPRESSION_CHOICES:
            raise InvalidConfigurationError(
                f"compression must be one of {COMPRESSION_CHOICES}, got {compression!r}")
        self.codebase_id = codebase_id
        self.scan = scan_
        self.compression = compression
        self.progress = progress
        self.per_file_results = per_file_results
        self.files_done = 0
        self.bytes_done = 0
        self.wire_bytes = 0
        self._parts: List[bytes] = []
        self._entries = 0
        self._batch_bytes = 0
        self._incompressible = False
        self._hint: Optional[Tuple[str, bool, int]] = None  # (file, worth, at)
        self._current = ""
        self._buf = memoryview(bytearray(BATCH_BYTES))
        self._last_report = 0.0

    def __iter__(self) -> Iterator[bytes]:
        yield header_chunk(self.codebase_id, self.per_file_results)
        for e in self.scan.entries:
            if e.is_dir:
                self._add(entry_parts(e.rel, files_pb2.ARCHIVE_ENTRY_TYPE_DIRECTORY,
                                      0, 0, b""))
            else:
                yield from self._file(e)
            if self._full():
                yield self._flush()
        if self._entries:
            yield self._flush()
        self._report("", force=True)
        # Without it the server imports nothing (a cancelled stream ends too).
        yield END_CHUNK

    def _full(self) -> bool:
        return self._batch_bytes >= BATCH_BYTES or self._entries >= MAX_BATCH_ENTRIES

    def _add(self, parts: List[bytes]) -> None:
        self._parts += parts
        self._entries += 1
        self._batch_bytes += len(parts[0]) + len(parts[1])

    def _file(self, e: LocalEntry) -> Iterator[bytes]:
        self._incompressible = os.path.splitext(e.rel)[1].lower() in COMPRESSED_SUFFIXES
        self._current = e.rel
        try:
            fd = os.open(e.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as exc:
            raise UploadError(e.rel, f"cannot read it: {exc}") from None
        try:
            yield from self._pieces(e, fd)
        except OSError as exc:
            raise UploadError(e.rel, f"cannot read it: {exc}") from None
        finally:
            os.close(fd)
        self.files_done += 1
        self._report(e.rel)

    def _pieces(self, e: LocalEntry, fd: int) -> Iterator[bytes]:
        size = os.fstat(fd).st_size
        first, left = True, size
        while first or left:
            room = max(BATCH_BYTES - self._batch_bytes, MIN_PIECE)
            want = min(left, room)
            big = want >= BIG_PIECE
            # The last piece asks for a byte more: one read also tells
            # that the file did not grow.
            last = not big and want == left
            data = _read_exactly(fd, self._buf[:want]) if big else \
                (os.read(fd, want + last) if want + last else b"")
            if len(data) != want:
                raise UploadError(e.rel, "the file changed while it was uploaded")
            self._add(entry_parts(e.rel if first else "", files_pb2.ARCHIVE_ENTRY_TYPE_FILE,
                                  e.mode, size, data))
            first, left = False, left - len(data)
            self.bytes_done += len(data)
            # A piece in the shared buffer is sent before the next read.
            if big or (left and self._full()):
                yield self._flush()
                self._report(e.rel)
        if not last and os.read(fd, 1):
            raise UploadError(e.rel, "the file changed while it was uploaded")

    def _compress(self) -> bool:
        if self.compression != "auto":
            return self.compression == "zlib"
        if self._incompressible:
            return False
        # One big file's batches: sampling each would cost more than it tells.
        if self._entries == 1 and self._hint and self._hint[0] == self._current \
                and self.bytes_done - self._hint[2] < RESAMPLE_BYTES:
            return self._hint[1]
        biggest = max(self._parts, key=len)
        worth = _worth_compressing(biggest if len(biggest) >= SAMPLE_BYTES
                                   else b"".join(self._parts))
        self._hint = (self._current, worth, self.bytes_done)
        return worth

    def _flush(self) -> bytes:
        chunk, wire = batch_chunk(self._parts, self._compress())
        self._parts, self._entries, self._batch_bytes = [], 0, 0
        self.wire_bytes += wire
        return chunk

    def _report(self, path: str, force: bool = False) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        # At most ~20 reports a second: callbacks must not slow the upload.
        if not force and now - self._last_report < 0.05:
            return
        self._last_report = now
        self.progress(UploadProgress(self.files_done, self.scan.files,
                                     self.bytes_done, self.scan.bytes, path))
