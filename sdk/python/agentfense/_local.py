"""Walking a local directory for upload (Sandbox.from_local)."""

from __future__ import annotations

import os
import stat
from typing import Iterator, Tuple

# Interpreter caches and virtual environments are machine-specific and large;
# they are never worth uploading.  Everything else is uploaded as is.
SKIPPED_DIR_NAMES = frozenset({"__pycache__", ".venv"})


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def iter_local_files(root: str) -> Iterator[Tuple[str, str]]:
    """Yield (workspace path, local path) for each regular file under root.

    Workspace paths use "/" and have no leading slash.  Symbolic links and
    special files are skipped, never followed: a link could point anywhere on
    this machine.  Directories named in SKIPPED_DIR_NAMES, and virtualenvs of
    any name (a directory holding pyvenv.cfg), are skipped too.
    """
    root = os.path.abspath(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIPPED_DIR_NAMES
            and not os.path.islink(os.path.join(dirpath, d))
            and not _is_virtualenv(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            local = os.path.join(dirpath, name)
            if not stat.S_ISREG(os.lstat(local).st_mode):
                continue
            rel = os.path.relpath(local, root)
            yield rel.replace(os.sep, "/"), local
