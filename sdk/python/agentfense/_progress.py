"""A text progress bar for uploads (standard library only)."""

from __future__ import annotations

import sys
import time
from typing import IO, Optional

from .types import UploadProgress


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


class ProgressBar:
    """Call it with UploadProgress updates; it redraws one line of `stream`
    (stderr by default) and ends the line when the upload is complete."""

    def __init__(self, stream: Optional[IO[str]] = None, width: int = 30,
                 label: str = "Uploading") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.label = label
        self.started = time.monotonic()
        self.done = False

    def __call__(self, p: UploadProgress) -> None:
        if self.done:
            return
        frac = p.bytes_done / p.bytes_total if p.bytes_total else (
            p.files_done / p.files_total if p.files_total else 1.0)
        frac = min(max(frac, 0.0), 1.0)
        fill = int(round(frac * self.width))
        rate = p.bytes_done / max(time.monotonic() - self.started, 1e-6)
        line = (f"\r{self.label} {frac * 100:5.1f}% [{'#' * fill}{'.' * (self.width - fill)}] "
                f"{p.files_done}/{p.files_total} files, "
                f"{human_size(p.bytes_done)}/{human_size(p.bytes_total)} "
                f"({human_size(rate)}/s)")
        complete = p.files_done >= p.files_total and p.bytes_done >= p.bytes_total
        self.stream.write(line + ("\n" if complete else ""))
        self.stream.flush()
        self.done = complete
