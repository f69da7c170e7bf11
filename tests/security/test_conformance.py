"""Permission conformance: level x operation -> exact outcome (ARCHITECTURE §4),
run inside a real sandbox, in the manner of Landlock's fs_test.c.

TABLE below is the contract, row for row the §4 table; it is what the
bpf-lsm enforcer must do.  LANDLOCK lists, cell by cell, where the landlock
enforcer is documented to differ (docs/security-model.md, "Landlock mode
differences") and why; every other cell must match TABLE under both
enforcers, and a documented difference must hold exactly, so a regression
in either direction fails.

Every case gets a directory of its own, P = /m/CONTEXT/LEVEL/OP, holding the
target P/t (a file, an ELF for exec, or a directory with a child P/t/c) or,
for creating operations, only P/keep; new names are P/tnew.  Rules give
P/t* and everything below it LEVEL; P itself and the rest of its content
get, by CONTEXT:
  own  LEVEL (read for none: a none entry needs a visible parent);
  inw  write: the entry is in a write directory;
  inr  read: the entry is in a read-only directory;
  wrd  write, and P also holds a read-only subdirectory P/rod/;
  wrf  write, and P also holds a read-only file P/rof.
The bpf-lsm enforcer decides by the entry's own level, so all contexts read
the same in TABLE; landlock decides some operations by the directory and
its content, which is what the contexts exercise.  Sources of renames and
links into P are write files in /src; destinations of renames and links
out of P are new names in /dst (write).
"""

import pytest

import afsec
from afsec import LEVELS, rule, ws

OK, ENOENT, EACCES, EXDEV = "ok", "ENOENT", "EACCES", "EXDEV"

# The §4 table.     none      view      read      write
TABLE = {
    # appears in its directory's listing
    "listed":       ("absent", "listed", "listed", "listed"),
    # stat / lstat
    "stat":         (ENOENT, OK, OK, OK),
    # opendir + readdir of a directory
    "readdir":      (ENOENT, OK, OK, OK),
    # anything below a none directory (stat of the directory's child)
    "stat_below":   (ENOENT, OK, OK, OK),
    # open O_RDONLY / exec / mmap
    "open_read":    (ENOENT, EACCES, OK, OK),
    "exec":         (ENOENT, EACCES, OK, OK),      # through ld.so: files are 0644
    "symlink_open": (ENOENT, EACCES, OK, OK),   # through a symlink made in /dst
    # open for write, O_TRUNC, truncate(2), chmod; a shared writable mapping
    "open_write":   (ENOENT, EACCES, EACCES, OK),
    "o_trunc":      (ENOENT, EACCES, EACCES, OK),   # O_RDONLY|O_TRUNC
    "truncate":     (ENOENT, EACCES, EACCES, OK),
    "chmod":        (ENOENT, EACCES, EACCES, OK),
    "mmap_write":   (ENOENT, EACCES, EACCES, OK),
    # unlink / rmdir
    "unlink":       (ENOENT, EACCES, EACCES, OK),
    "rmdir":        (ENOENT, EACCES, EACCES, OK),
    # rename / link with it as source (a directory only if all below is write)
    "rename_out":   (ENOENT, EACCES, EACCES, OK),
    "link":         (ENOENT, EACCES, EACCES, OK),
    "rename_dir":   (ENOENT, EACCES, EACCES, OK),
    "rename_dir_protected": (ENOENT, EACCES, EACCES, EACCES),
    # create a new entry at this path
    "creat":        (EACCES, EACCES, EACCES, OK),
    "mkdir":        (EACCES, EACCES, EACCES, OK),
    "symlink":      (EACCES, EACCES, EACCES, OK),
    "rename_in":    (EACCES, EACCES, EACCES, OK),
    "link_in":      (EACCES, EACCES, EACCES, OK),
}
OPS = tuple(TABLE)
CONTEXTS = ("own", "inw", "inr", "wrd", "wrf")

# Where landlock differs: (context, level, op) -> (outcome, reason); each
# reason is explained under its name in docs/security-model.md, "Landlock
# mode differences".
VR, NVR = ("view", "read"), ("none", "view", "read")
NEW_ENTRY = ("creat", "mkdir", "symlink", "rename_in", "link_in")
CHANGE_DIR = (*NEW_ENTRY, "unlink", "rmdir", "rename_out", "rename_dir")
LANDLOCK = {
    # O_RDONLY|O_TRUNC: refused by seccomp in landlock mode, whatever the level.
    **{(c, lv, "o_trunc"): (EACCES, "landlock-ro-trunc") for c in CONTEXTS
       for lv in ("none", "write")},
    # Metadata changes are not Landlock access rights.
    **{(c, lv, "chmod"): (OK, "landlock-metadata") for c in CONTEXTS for lv in VR},
    # Landlock's REFER check refuses a link that would give the file more
    # rights at its new place with EXDEV.
    **{(c, lv, "link"): (EXDEV, "landlock-exdev") for c in CONTEXTS for lv in VR},
    # A new entry gets its directory's rights, whatever its own path's level.
    **{("inw", lv, op): (OK, "landlock-inherit") for lv in NVR for op in NEW_ENTRY},
    # Creating, removing and renaming are decided by the directory: a read
    # one allows none of them, even for an entry that is itself write.
    **{("inr", "write", op): (EACCES, "landlock-parent") for op in CHANGE_DIR},
    ("inr", "write", "link"): (EXDEV, "landlock-parent"),
    # A write directory that holds anything not write (a read-only
    # subdirectory or file) cannot be given create and remove rights.
    **{(c, "write", op): (EACCES, "landlock-subtree") for c in ("wrd", "wrf")
       for op in CHANGE_DIR},
    **{(c, "write", "link"): (EXDEV, "landlock-subtree") for c in ("wrd", "wrf")},
}

# What the target of each operation is.
DIR_OPS = {"readdir", "stat_below", "rmdir", "rename_dir", "rename_dir_protected"}
CREATE_OPS = {"creat", "mkdir", "symlink", "rename_in", "link_in"}


def parent_level(ctx: str, level: str) -> str:
    if ctx == "own":
        return "read" if level == "none" else level
    return "read" if ctx == "inr" else "write"


def case_dir(ctx, level, op):
    return f"/m/{ctx}/{level}/{op}"


def tag(ctx, level, op):
    return f"{ctx}-{level}-{op}"


def files(elf: bytes):
    out = {"src/keep": b"", "dst/keep": b""}
    for ctx in CONTEXTS:
        for level in LEVELS:
            for op in OPS:
                d = case_dir(ctx, level, op)[1:]
                if ctx == "wrd":
                    out[f"{d}/rod/f"] = b"read-only\n"
                elif ctx == "wrf":
                    out[f"{d}/rof"] = b"read-only\n"
                if op in CREATE_OPS:
                    out[f"{d}/keep"] = b"keep\n"
                    out[f"src/{tag(ctx, level, op)}"] = b"source\n"
                elif op in DIR_OPS:
                    out[f"{d}/t/c"] = b"child\n"
                    if op == "rename_dir_protected":
                        out[f"{d}/t/p"] = b"protected child\n"
                else:
                    out[f"{d}/t"] = elf if op == "exec" else b"content\n"
    return out


def rules():
    out = [rule("**/*", "read"), rule("/src/**", "write", 10), rule("/dst/**", "write", 10)]
    for ctx in CONTEXTS:
        for level in LEVELS:
            base = f"/m/{ctx}/{level}/*"
            out += [rule(base + "/**", parent_level(ctx, level), 10),
                    rule(base + "/t*/**", level, 20)]
        # The protected child of a write directory is read-only.
        out.append(rule(f"/m/{ctx}/write/rename_dir_protected/t/p", "read", 30, "file"))
    out += [rule("/m/wrd/*/*/rod/**", "read", 30), rule("/m/wrf/*/*/rof", "read", 30)]
    return out


def probe_case(ctx, level, op):
    d, t = ws(case_dir(ctx, level, op)), tag(ctx, level, op)
    target, new = f"{d}/t", f"{d}/tnew"
    dst = ws(f"/dst/{t}")
    args = {
        "listed": ("listed", target), "stat": ("stat", target),
        "readdir": ("readdir", target), "stat_below": ("stat", target + "/c"),
        "open_read": ("open", target, "r"),
        "exec": ("exec", target), "symlink_open": ("symlink_open", target, dst),
        "open_write": ("open", target, "w"), "o_trunc": ("open", target, "rtrunc"),
        "truncate": ("truncate", target), "chmod": ("chmod", target),
        "mmap_write": ("mmap_write", target), "unlink": ("unlink", target),
        "rmdir": ("rmdir", target), "rename_out": ("rename", target, dst),
        "link": ("link", target, dst), "rename_dir": ("rename", target, dst),
        "rename_dir_protected": ("rename", target, dst),
        "creat": ("creat", new), "mkdir": ("mkdir", new),
        "symlink": ("symlink", ws("/src/keep"), new),
        "rename_in": ("rename", ws(f"/src/{t}"), new),
        "link_in": ("link", ws(f"/src/{t}"), new),
    }[op]
    return (t, *args)


def expected(enforcer, ctx, level, op):
    """(outcome, why) for one cell."""
    want = TABLE[op][LEVELS.index(level)]
    why = "§4 table"
    if enforcer == "landlock" and (ctx, level, op) in LANDLOCK:
        want, why = LANDLOCK[(ctx, level, op)]
    return want, why


@pytest.fixture(scope="module")
def outcomes(module_res, enforcer):
    with open("/usr/bin/true", "rb") as f:
        elf = f.read()
    cb = module_res.codebase(files(elf), name="conformance")
    sb = module_res.sandbox(cb.id, rules())
    assert sb.enforcer == enforcer
    cases = [probe_case(c, lv, op) for c in CONTEXTS for lv in LEVELS for op in OPS]
    return afsec.run_probe(module_res.client, sb.id, cases)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("ctx", CONTEXTS)
def test_cell(outcomes, enforcer, ctx, level, op):
    want, why = expected(enforcer, ctx, level, op)
    got = outcomes[tag(ctx, level, op)]
    assert got == want, \
        f"{enforcer}: {op} on a {level} entry ({ctx}): expected {want} ({why}), got {got}"


def test_landlock_differences_are_documented():
    """Every landlock difference names a documented reason and a real cell."""
    doc = (afsec.HERE.parents[1] / "docs" / "security-model.md").read_text()
    for (ctx, level, op), (want, why) in LANDLOCK.items():
        assert ctx in CONTEXTS and level in LEVELS and op in OPS
        assert want != TABLE[op][LEVELS.index(level)], f"{ctx}-{level}-{op} is no difference"
        assert f"({why})" in doc, f"reason {why} is not in docs/security-model.md"
