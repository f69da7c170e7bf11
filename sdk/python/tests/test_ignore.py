"""Ignore rules: gitignore semantics, checked pattern by pattern and on trees."""

import os

import pytest

from agentfense import _archive, _ignore


def ignored(lines, rel, is_dir=False, base=""):
    layer = _ignore.Layer.from_lines(base, lines)
    return _ignore.ignored([layer], rel, rel.rsplit("/", 1)[-1], is_dir)


@pytest.mark.parametrize("pattern, path, is_dir, want", [
    ("*.log", "a.log", False, True),
    ("*.log", "deep/x/a.log", False, True),          # no slash: any depth
    ("*.log", "a.log.txt", False, False),
    ("/top.txt", "top.txt", False, True),            # leading slash: anchored
    ("/top.txt", "sub/top.txt", False, False),
    ("doc/*.md", "doc/a.md", False, True),           # middle slash: anchored
    ("doc/*.md", "x/doc/a.md", False, False),
    ("doc/*.md", "doc/sub/a.md", False, False),      # * stays in a component
    ("build/", "build", True, True),                 # trailing slash: dirs only
    ("build/", "build", False, False),
    ("**/logs", "a/b/logs", True, True),
    ("**/logs", "logs", True, True),
    ("a/**/b", "a/b", False, True),
    ("a/**/b", "a/x/y/b", False, True),
    ("a/**", "a/x/y", False, True),
    ("a/**", "a", True, False),
    ("file?.txt", "file1.txt", False, True),
    ("file?.txt", "file10.txt", False, False),
    ("[abc].py", "b.py", False, True),
    ("[!abc].py", "b.py", False, False),
    ("[!abc].py", "d.py", False, True),
    (r"\#hash", "#hash", False, True),
    (r"\!bang", "!bang", False, True),
    ("trailing   ", "trailing", False, True),
    (r"space\ ", "space ", False, True),
    ("# comment", "# comment", False, False),
    ("", "x", False, False),
])
def test_patterns(pattern, path, is_dir, want):
    assert ignored([pattern], path, is_dir) is want


def test_negation_and_order():
    assert not ignored(["*.log", "!keep.log"], "keep.log")
    assert ignored(["!keep.log", "*.log"], "keep.log")    # last match wins
    assert ignored(["*.log", "!keep.log"], "other.log")


def test_layers_apply_below_their_base():
    root = _ignore.Layer.from_lines("", ["*.tmp"])
    sub = _ignore.Layer.from_lines("sub", ["!x.tmp", "/only-here"])
    layers = [root, sub]
    assert _ignore.ignored(layers, "x.tmp", "x.tmp", False)
    assert not _ignore.ignored(layers, "sub/x.tmp", "x.tmp", False)
    assert _ignore.ignored(layers, "sub/only-here", "only-here", False)
    assert not _ignore.ignored(layers, "sub/deeper/only-here", "only-here", False)
    assert not _ignore.ignored(layers, "only-here", "only-here", False)


def make(root, rels):
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)


def paths(scan):
    return sorted(e.rel + ("/" if e.is_dir else "") for e in scan.entries)


def test_scan_tree(tmp_path):
    make(tmp_path, ["a.py", "b.log", "keep.log", "sub/c.log", "sub/d.py", "node_modules/m.js",
                    "__pycache__/x.pyc", "src/x.pyc", ".git/HEAD", "env/pyvenv.cfg",
                    "env/lib/x.py", "notes/n.txt"])
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\n")
    (tmp_path / "sub" / ".gitignore").write_text("!c.log\n")
    (tmp_path / ".sandboxignore").write_text("notes/\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to("a.py")
    os.mkfifo(tmp_path / "pipe")
    s = _archive.scan(tmp_path)
    # src/ stays (empty): only its file is ignored.
    assert paths(s) == [".gitignore", ".sandboxignore", "a.py", "empty/", "keep.log",
                        "src/", "sub/.gitignore", "sub/c.log", "sub/d.py"]
    assert {x.path: x.reason.split()[0] for x in s.skipped} == {"link": "symbolic",
                                                               "pipe": "special"}
    assert s.files == 7 and s.bytes == sum(e.size for e in s.entries if not e.is_dir)
    s2 = _archive.scan(tmp_path, ignore_patterns=["*.py", "!.git/"], use_gitignore=False)
    assert ".git/HEAD" in paths(s2) and "a.py" not in paths(s2) and "b.log" in paths(s2)
    s3 = _archive.scan(tmp_path, use_default_ignores=False)
    assert "node_modules/m.js" in paths(s3)


def test_scan_size_cap_and_errors(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 100)
    (tmp_path / "small").write_bytes(b"x")
    s = _archive.scan(tmp_path, max_file_size=50)
    assert paths(s) == ["small"] and [(x.path, x.size) for x in s.skipped] == [("big", 100)]
    with pytest.raises(ValueError):
        _archive.scan(tmp_path / "missing")
    with pytest.raises(ValueError):
        _archive.scan(tmp_path, ignore_patterns="*.py")
