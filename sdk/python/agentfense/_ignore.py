"""Ignore rules for uploads, with gitignore semantics.

Sources, from lowest to highest precedence: the SDK's defaults, the root's
``.git/info/exclude``, then for each directory from the root down its
``.gitignore`` and ``.sandboxignore`` (each applying to its directory and
below), then the caller's ``ignore_patterns`` (anchored at the root). As in
git, the last matching pattern decides, ``!pattern`` re-includes, and a file
below an excluded directory cannot be re-included (the walk never enters
that directory).
"""

from __future__ import annotations

import re
from typing import Iterable, List, Optional, Sequence, Tuple

# Machine-specific or regenerated content, never worth uploading. Undo one
# with a negated pattern, e.g. ignore_patterns=["!.git/"]. Virtualenvs of
# any name (a directory holding pyvenv.cfg) are left out as well.
DEFAULT_IGNORES: Tuple[str, ...] = (
    ".git/", ".hg/", ".svn/",
    "__pycache__/", "*.pyc", "*.pyo",
    ".venv/", "node_modules/",
    ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", ".tox/", ".nox/",
    ".DS_Store", "Thumbs.db",
)

IGNORE_FILES = (".gitignore", ".sandboxignore")


def _class_to_regex(pat: str, i: int) -> Tuple[str, int]:
    """A [...] class starting at pat[i] == '['; returns (regex, next index)."""
    j = i + 1
    if j < len(pat) and pat[j] in "!^":
        j += 1
    if j < len(pat) and pat[j] == "]":
        j += 1
    while j < len(pat) and pat[j] != "]":
        j += 2 if pat[j] == "\\" else 1
    if j >= len(pat):
        return re.escape("["), i + 1          # no closing ']': a literal
    body = pat[i + 1:j]
    neg = body[:1] in ("!", "^")
    if neg:
        body = body[1:]
    body = body.replace("\\", "\\\\").replace("^", "\\^")
    # A class never matches '/' (it stays inside one path component).
    return ("[^/" + body + "]") if neg else ("(?!/)[" + body + "]"), j + 1


def glob_to_regex(pat: str) -> str:
    """Translate one gitignore glob (without '!' or the trailing '/')."""
    out: List[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*" and pat.startswith("**", i):
            before = i == 0 or pat[i - 1] == "/"
            after = i + 2 == n or pat[i + 2] == "/"
            if before and after:
                if i + 2 == n:                 # trailing "/**": all below
                    out.append(".*")
                    i += 2
                else:                          # "**/": zero or more dirs
                    out.append("(?:[^/]*/)*")
                    i += 3
                continue
            out.append("[^/]*")                # "a**b" is just "*"
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            rx, i = _class_to_regex(pat, i)
            out.append(rx)
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pat[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


class Rule:
    """One pattern line: matched against the path relative to its base dir."""

    __slots__ = ("text", "negate", "dir_only", "anchored", "regex")

    def __init__(self, text: str, negate: bool, dir_only: bool, anchored: bool,
                 regex: "re.Pattern[str]") -> None:
        self.text = text
        self.negate = negate
        self.dir_only = dir_only
        self.anchored = anchored
        self.regex = regex

    def matches(self, rel: str, name: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return bool(self.regex.fullmatch(rel if self.anchored else name))


def parse_line(line: str) -> Optional[Rule]:
    """A Rule for one line of an ignore file, or None (blank, comment)."""
    line = line.rstrip("\n").rstrip("\r")
    # Trailing spaces are dropped unless escaped.
    while line.endswith(" ") and not line.endswith("\\ "):
        line = line[:-1]
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate:
        line = line[1:]
    elif line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    dir_only = line.endswith("/") and not line.endswith("\\/")
    if dir_only:
        line = line.rstrip("/")
    if not line:
        return None
    # A slash at the start or in the middle anchors the pattern to its base.
    anchored = "/" in line
    line = line.lstrip("/")
    if not line:
        return None
    try:
        rx = re.compile(glob_to_regex(line), re.DOTALL)
    except re.error:
        return None                            # as git: a bad line is ignored
    return Rule(line, negate, dir_only, anchored, rx)


def _union(rules: Sequence[Rule]) -> Optional["re.Pattern[str]"]:
    if not rules:
        return None
    return re.compile("|".join(f"(?:{r.regex.pattern})" for r in rules), re.DOTALL)


class Layer:
    """The rules of one source, applying to paths below `base` ("" = root)."""

    def __init__(self, base: str, rules: Sequence[Rule], source: str = "") -> None:
        self.base = base
        self.rules = list(rules)
        self.source = source
        self._prefix = base + "/" if base else ""
        self._plain = not any(r.negate for r in self.rules)
        # Without negations, order does not matter: one regex per kind of
        # rule decides (the walk asks every layer about every entry).
        self._fast = [
            (_union([r for r in self.rules if r.anchored == anchored
                     and r.dir_only == dir_only]), anchored, dir_only)
            for anchored in (False, True) for dir_only in (False, True)]

    @classmethod
    def from_lines(cls, base: str, lines: Iterable[str], source: str = "") -> "Layer":
        return cls(base, [r for r in map(parse_line, lines) if r], source)

    def decide(self, rel: str, name: str, is_dir: bool) -> Optional[bool]:
        """True (ignore), False (re-included) or None (no pattern matched)."""
        if self._prefix and not rel.startswith(self._prefix):
            return None
        sub = rel[len(self._prefix):]
        if self._plain:
            for rx, anchored, dir_only in self._fast:
                if rx is not None and (is_dir or not dir_only) and \
                        rx.fullmatch(sub if anchored else name):
                    return True
            return None
        for r in reversed(self.rules):
            if r.matches(sub, name, is_dir):
                return not r.negate
        return None


def read_layer(path: str, base: str) -> Optional[Layer]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            layer = Layer.from_lines(base, f, path)
    except OSError:
        return None
    return layer if layer.rules else None


def ignored(layers: Sequence[Layer], rel: str, name: str, is_dir: bool) -> bool:
    """Is rel ignored? The last layer with a matching pattern decides."""
    decision = None
    for layer in layers:
        d = layer.decide(rel, name, is_dir)
        if d is not None:
            decision = d
    return bool(decision)
