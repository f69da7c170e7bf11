"""What a directory upload sends, decided before anything is sent: the scan
under the ignore rules, the size limits (the caller's and the server's),
and what to do with files above them. Shared by the sync and async clients.
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable, Optional, Sequence, Union

from . import _archive
from ._progress import ProgressBar
from .exceptions import (InvalidConfigurationError, ResourceLimitExceededError,
                         UploadWarning)
from .types import UploadLimits, UploadProgress

log = logging.getLogger("agentfense")

Progress = Union[bool, Callable[[UploadProgress], None], None]


def progress_callback(progress: Progress) -> Optional[Callable[[UploadProgress], None]]:
    """progress=True draws a bar on stderr; a callable gets every update."""
    if progress is True:
        return ProgressBar()
    if progress is None or progress is False:
        return None
    if not callable(progress):
        raise InvalidConfigurationError("progress must be True or a callable")
    return progress


def _cap(limit: int, mine: Optional[int]) -> Optional[int]:
    caps = [c for c in (limit or None, mine) if c]
    return min(caps) if caps else None


def plan(root, limits: UploadLimits, *, ignore_patterns: Optional[Sequence[str]],
         use_gitignore: bool, use_default_ignores: bool,
         max_file_size: Optional[int], on_large_file: str) -> _archive.Scan:
    """Scan root; files above the file size limit (max_file_size and the
    server's, the smaller) are left out with a warning (on_large_file=
    "warn"), an error before anything is sent ("error"), or silently
    ("skip", they are still listed in the summary's `skipped`)."""
    if on_large_file not in _archive.LARGE_FILE_CHOICES:
        raise InvalidConfigurationError(
            f"on_large_file must be one of {_archive.LARGE_FILE_CHOICES}")
    cap = _cap(limits.max_file_size, max_file_size)
    scan = _archive.scan(root, ignore_patterns=ignore_patterns,
                         use_gitignore=use_gitignore,
                         use_default_ignores=use_default_ignores, max_file_size=cap)
    large = [s for s in scan.skipped if s.reason.startswith("larger")]
    if large and on_large_file == "error":
        raise ResourceLimitExceededError(
            f"{len(large)} file(s) exceed the file size limit of {cap} bytes, "
            f"e.g. {large[0].path!r} ({large[0].size} bytes)",
            resource="file_size", limit=cap, path=large[0].path)
    if large and on_large_file == "warn":
        names = ", ".join(s.path for s in large[:5]) + (" ..." if len(large) > 5 else "")
        warnings.warn(UploadWarning(
            f"not uploaded, larger than {cap} bytes: {names}"), stacklevel=4)
    for s in scan.skipped:
        log.info("not uploaded: %s (%s)", s.path, s.reason)
    if limits.max_archive_size and scan.bytes > limits.max_archive_size:
        raise ResourceLimitExceededError(
            f"the files to upload hold {scan.bytes} bytes, above the server's "
            f"upload size limit of {limits.max_archive_size}",
            resource="upload_size", limit=limits.max_archive_size)
    if limits.max_archive_entries and len(scan.entries) > limits.max_archive_entries:
        raise ResourceLimitExceededError(
            f"{len(scan.entries)} entries to upload, above the server's limit of "
            f"{limits.max_archive_entries}",
            resource="upload_entries", limit=limits.max_archive_entries)
    return scan


def writer(codebase_id: str, scan: _archive.Scan, *, compression: str, progress: Progress,
           per_file_results: bool) -> _archive.ArchiveWriter:
    """The UploadArchive messages of a scan, as both clients send them."""
    return _archive.ArchiveWriter(codebase_id, scan, compression=compression,
                                  progress=progress_callback(progress),
                                  per_file_results=per_file_results)
