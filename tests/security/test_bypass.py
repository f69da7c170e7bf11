"""Bypass attempts (ARCHITECTURE §5, known bypass classes), each a named case
run inside a real sandbox with the agent-safe preset and a few extra rules.

Every case is a short sequence of steps (probe.py operations) with the exact
outcome expected of each.  An outcome is the same for both enforcers unless
the case says otherwise with its reason, which must be a documented
limitation of landlock mode (docs/security-model.md, "Landlock mode
differences").  All steps of all cases run in one exec; cases use paths of
their own, so they do not depend on each other.
"""

import re
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple, Union

import pytest

import afsec
from afsec import rule, ws

SECRET = f"AF-SECRET-{uuid.uuid4().hex}"
# grep patterns that match the marker but not themselves (they are in /proc).
SECRET_RE = SECRET.replace("AF-SECRET", "AF-SECRE[T]")
OTHER_SB_MARK = f"AF-OTHER-SANDBOX-{uuid.uuid4().hex}"
OTHER_SB_RE = OTHER_SB_MARK.replace("AF-OTHER", "AF-OTHE[R]")
# What the searches find when there is something to find.
CONTROL = f"AF-CONTROL-{uuid.uuid4().hex}"
CONTROL_RE = CONTROL.replace("AF-CONTROL", "AF-CONTRO[L]")

DEEP = "/deep" + "/d" * 200                  # a 200-deep read-only tree
# Workspace paths of about 3800 bytes, and of 4091 (the store takes paths
# shorter than PATH_MAX; inside the sandbox /workspace makes it 4101).
LONG = "/long" + ("/" + "l" * 199) * 19                       # 3805 bytes
LONGER = "/longer" + ("/" + "m" * 199) * 20 + "/" + "m" * 76  # + /ro.txt: 4091

APP = "print('app')\n"


def files(elf: bytes) -> Dict[str, bytes]:
    s = SECRET.encode() + b"\n"
    return {
        "README.md": b"readme\n",
        "src/app.py": APP.encode(),
        **{f"src/{n}.txt": APP.encode() for n in ("t1", "t2", "t3", "meta")},
        "ro/tree/a.txt": b"ro a\n",
        "ro/tree/sub/b.txt": b"ro b\n",
        "view/v.txt": b"view only\n",
        "view/true": elf,
        "secrets/key.txt": s,
        ".env": s,
        "config/credentials.json": s,
        "server.key": s,
        "output/keep": b"",
        "output/secrets/old.txt": s,
        "output/box/keep": b"box\n",
        "output/box/.env": s,
        "wro/locked.txt": b"locked\n",
        "wro/locked2.txt": b"locked\n",
        "wro/keep": b"",
        f"{DEEP[1:]}/ro.txt": b"deep\n",
        f"{DEEP[1:]}/.env": s,
        f"{LONG[1:]}/ro.txt": b"long\n",
        f"{LONG[1:]}/.env": s,
        f"{LONGER[1:]}/ro.txt": b"longer\n",
        f"{LONGER[1:]}/.env": s,
    }


def rules() -> List:
    """Added to the agent-safe preset: a view-only tree, and a write directory
    /wro holding read-only files."""
    return [rule("/view/**", "view", 20), rule("/wro/**", "write", 10),
            rule("/wro/locked*", "read", 110)]


Match = Union[str, Callable[[str], bool]]


@dataclass
class Differs:
    """An outcome that depends on the enforcer; `why` names the documented
    landlock difference."""
    bpf: Match
    landlock: Match
    why: str


Expect = Union[Match, Differs]


@dataclass
class Case:
    name: str
    doc: str
    steps: List[Tuple] = field(default_factory=list)   # (label, op, *args, expect)

    def probe_cases(self):
        return [(f"{self.name}/{label}", op, *args) for label, op, *args, _ in self.steps]

    def expectations(self) -> Dict[str, Expect]:
        return {f"{self.name}/{label}": step[-1] for label, _, *step in self.steps}


def read_is(text: str) -> str:
    return "data:" + text


def fails_closed_past_path_max(got: str) -> bool:
    """The chain stops, refused, at the first entry whose path no longer fits
    PATH_MAX (4096 bytes with the NUL; /workspace in front or not)."""
    m = re.fullmatch(r"(mkdir|create) (EACCES|ENAMETOOLONG)"
                     r"(?: at depth \d+)? \(path (\d+) bytes\)", got)
    if not m:
        return False
    # The probe reports the parent's length for mkdir, the file's for create.
    length = int(m.group(3)) + (201 if m.group(1) == "mkdir" else 0)
    return 4096 <= length <= 4096 + 201


def not_refused(got: str) -> bool:
    """Let through: done, or refused by the file system itself (user xattrs
    on a tmpfs delta before Linux 6.6)."""
    return got in ("ok", "ENOTSUP")


def completes(got: str) -> bool:
    return got.startswith("ok (path ")


CASES = [
    # -- symlinks and hard links ------------------------------------------
    Case("symlink_to_secret", "a symlink in a writable place to a hidden file", [
        ("open", "symlink_open", ws("/secrets/key.txt"), ws("/output/l-secret"), "ENOENT"),
    ]),
    Case("symlink_to_env", "a symlink to the hidden /.env", [
        ("open", "symlink_open", ws("/.env"), ws("/output/l-env"), "ENOENT"),
    ]),
    Case("symlink_to_view_file", "a symlink to a view-only file, read through it", [
        ("open", "symlink_open", ws("/view/v.txt"), ws("/output/l-view"), "EACCES"),
    ]),
    Case("symlink_to_readonly_then_write", "write through a symlink to a read-only file", [
        ("make", "symlink", ws("/src/app.py"), ws("/output/l-ro"), "ok"),
        ("write", "open", ws("/output/l-ro"), "w", "EACCES"),
        ("intact", "read", ws("/src/app.py"), read_is(APP)),
    ]),
    Case("symlink_via_proc_root", "a symlink through /proc/self/root to a hidden file", [
        ("open", "symlink_open", "/proc/self/root/workspace/secrets/key.txt",
         ws("/output/l-proc"), "ENOENT"),
    ]),
    Case("hardlink_to_secret", "a hard link to a hidden file", [
        ("link", "link", ws("/secrets/key.txt"), ws("/output/h-secret"), "ENOENT"),
    ]),
    Case("hardlink_to_readonly_then_write", "a hard link to a read-only file, then write it", [
        ("link", "link", ws("/src/app.py"), ws("/output/h-ro"),
         Differs("EACCES", "EXDEV", "landlock-exdev")),
        ("write", "open", ws("/output/h-ro"), "w", "ENOENT"),
        ("intact", "read", ws("/src/app.py"), read_is(APP)),
    ]),
    # -- renames ----------------------------------------------------------
    Case("rename_readonly_tree_then_write", "move a read-only tree into /output, then write", [
        ("rename", "rename", ws("/ro/tree"), ws("/output/tree"), "EACCES"),
        ("write", "open", ws("/output/tree/a.txt"), "w", "ENOENT"),
        ("intact", "read", ws("/ro/tree/a.txt"), read_is("ro a\n")),
    ]),
    Case("rename_readonly_file_out", "move one read-only file into /output", [
        ("rename", "rename", ws("/ro/tree/sub/b.txt"), ws("/output/b.txt"), "EACCES"),
        ("intact", "read", ws("/ro/tree/sub/b.txt"), read_is("ro b\n")),
    ]),
    Case("rename_over_readonly", "replace a read-only file by renaming another over it", [
        ("make", "write_new", ws("/output/over.txt"), "ok"),
        ("rename", "rename", ws("/output/over.txt"), ws("/src/app.py"), "EACCES"),
        ("intact", "read", ws("/src/app.py"), read_is(APP)),
    ]),
    Case("rename_exchange_readonly", "RENAME_EXCHANGE a writable file with a read-only one", [
        ("make", "write_new", ws("/output/xchg.txt"), "ok"),
        ("exchange", "renameat2", ws("/output/xchg.txt"), ws("/src/app.py"), "exchange",
         "EACCES"),
        ("intact", "read", ws("/src/app.py"), read_is(APP)),
    ]),
    Case("rename_dir_with_hidden_child", "move a writable directory that holds a hidden file", [
        ("rename", "rename", ws("/output/box"), ws("/output/box2"),
         Differs("EACCES", "ok", "landlock-parent")),
        ("hidden", "stat", ws("/output/box2/.env"), "ENOENT"),
    ]),
    Case("readonly_in_write_dir_rename", "rename a read-only file inside a write directory, "
         "then write it", [
        ("rename", "rename", ws("/wro/locked.txt"), ws("/wro/moved.txt"), "EACCES"),
        ("write_new_name", "open", ws("/wro/moved.txt"), "w", "ENOENT"),
        ("write_old_name", "open", ws("/wro/locked.txt"), "w", "EACCES"),
    ]),
    Case("readonly_in_write_dir_replace", "delete a read-only file in a write directory and "
         "create one of the same name", [
        ("unlink", "unlink", ws("/wro/locked2.txt"), "EACCES"),
        ("recreate", "write_new", ws("/wro/locked2.txt"), "EACCES"),
    ]),
    # -- /proc ------------------------------------------------------------
    Case("proc_self_root_secret", "a hidden file through /proc/self/root", [
        ("read", "read", "/proc/self/root/workspace/secrets/key.txt", "ENOENT"),
    ]),
    Case("proc_self_root_write", "write a read-only file through /proc/self/root", [
        ("write", "open", "/proc/self/root/workspace/src/app.py", "w", "EACCES"),
    ]),
    Case("proc_1_root", "the sandbox init's root through /proc/1/root", [
        ("list", "readdir", "/proc/1/root/workspace", "EACCES"),
        ("read", "read", "/proc/1/root/workspace/src/app.py", "EACCES"),
    ]),
    Case("proc_1_fds", "the sandbox init's open files", [
        ("fds", "proc_fds", 1, "none opened"),
    ]),
    Case("proc_1_environ", "the sandbox init's environment", [
        ("environ", "environ_has", 1, "PATH", "EACCES"),
    ]),
    Case("sibling_fd_reopen_write", "reopen another sandbox process's read-only fd for "
         "writing through /proc/PID/fd", [
        ("reopen", "sibling_fd", ws("/src/app.py"), "EACCES"),
    ]),
    Case("own_fd_reopen_write", "reopen our own read-only fd for writing through /proc/self/fd", [
        ("reopen", "reopen_fd", ws("/src/app.py"), "r", "rw", "EACCES"),
    ]),
    Case("o_path_reopen", "an O_PATH fd reopened through /proc/self/fd", [
        ("view_read", "reopen_fd", ws("/view/v.txt"), "path", "r", "EACCES"),
        ("ro_write", "reopen_fd", ws("/src/app.py"), "path", "w", "EACCES"),
        ("secret", "reopen_fd", ws("/secrets/key.txt"), "path", "r", "first ENOENT"),
    ]),
    Case("inherited_fds", "a command starts with stdin, stdout and stderr only", [
        ("fds", "own_fds", "0-2 only"),
    ]),
    Case("daemon_environment", "the daemon's environment does not reach a command", [
        ("environ", "environ_has", "self", "AF_E2E_LEAK_MARKER", "absent"),
    ]),
    # -- kernel interfaces around the path checks --------------------------
    Case("io_uring_openat", "IORING_OP_OPENAT of a hidden and of a read-only file", [
        ("secret", "io_uring_openat", ws("/secrets/key.txt"), 0, "setup EPERM"),
        ("ro_write", "io_uring_openat", ws("/src/app.py"), 1, "setup EPERM"),
    ]),
    Case("open_by_handle_at", "open a read-only file by handle, for writing", [
        ("open", "open_by_handle", ws("/src/app.py"), "rw", "name_to_handle_at EPERM"),
    ]),
    Case("mmap_shared_write", "a shared writable mapping of a read-only file", [
        ("mmap", "mmap_write", ws("/src/app.py"), "EACCES"),
        ("mprotect", "mprotect_write", ws("/src/app.py"), "EACCES"),
        ("intact", "read", ws("/src/app.py"), read_is(APP)),
    ]),
    Case("mmap_private_write", "a private writable mapping never reaches the file", [
        ("mmap", "mmap_private_write", ws("/src/app.py"), "unchanged"),
    ]),
    Case("truncate_readonly", "truncate(2), and O_TRUNC with O_RDONLY and with O_WRONLY, "
         "of read-only files (one each: a refused call must not shorten it)", [
        ("truncate", "truncate", ws("/src/t1.txt"), "EACCES"),
        ("truncate_size", "size", ws("/src/t1.txt"), str(len(APP))),
        ("o_rdonly_trunc", "open", ws("/src/t2.txt"), "rtrunc", "EACCES"),
        ("o_rdonly_trunc_size", "size", ws("/src/t2.txt"), str(len(APP))),
        ("o_wronly_trunc", "open", ws("/src/t3.txt"), "wtrunc", "EACCES"),
        ("o_wronly_trunc_size", "size", ws("/src/t3.txt"), str(len(APP))),
    ]),
    Case("truncate_secret", "truncate a hidden file", [
        ("truncate", "truncate", ws("/.env"), "ENOENT"),
    ]),
    Case("metadata_readonly", "chmod, chown, utimes and setxattr on a read-only file", [
        ("chmod", "chmod", ws("/src/meta.txt"), Differs("EACCES", "ok", "landlock-metadata")),
        ("chown", "chown", ws("/src/meta.txt"), Differs("EACCES", "ok", "landlock-metadata")),
        ("utime", "utime", ws("/src/meta.txt"), Differs("EACCES", "ok", "landlock-metadata")),
        ("setxattr", "setxattr", ws("/src/meta.txt"),
         Differs("EACCES", not_refused, "landlock-metadata")),
        ("intact", "read", ws("/src/meta.txt"), read_is(APP)),
    ]),
    Case("exec_view_via_loader", "run a view-only ELF through the dynamic loader", [
        ("exec", "exec", ws("/view/true"), "EACCES"),
    ]),
    Case("tiocsti", "push input into a terminal", [
        ("ioctl", "tiocsti", "/dev/tty ENXIO EPERM"),
    ]),
    Case("nested_namespaces", "new user and mount namespaces", [
        ("user", "unshare", "user", "EPERM"),
        ("mount", "unshare", "mount", "EPERM"),
        ("both", "unshare", "user+mount", "EPERM"),
    ]),
    Case("mounts", "mount over or bind into the workspace, chroot", [
        ("tmpfs", "mount", "tmpfs", ws("/src"), "tmpfs", False, "EPERM"),
        ("bind", "mount", ws("/output"), ws("/src"), "", True, "EPERM"),
        ("chroot", "chroot", ws("/output"), "EPERM"),
        ("intact", "read", ws("/src/app.py"), read_is(APP)),
    ]),
    # -- long paths and deep trees ----------------------------------------
    Case("path_argument_too_long", "a 5000-byte path argument", [
        ("stat", "long_path", 5000, "ENAMETOOLONG"),
    ]),
    Case("deep_chain_past_path_max", "directories made with *at calls in /output until the "
         "path exceeds 4096 bytes", [
        ("create", "deep_create", ws("/output/deepw"), 25, 200, "leaf",
         Differs(fails_closed_past_path_max, completes, "landlock-paths")),
    ]),
    Case("deep_tree_200", "a 200-deep read-only tree with a hidden file at the bottom", [
        ("write", "deep_open", ws("/deep"), DEEP[6:] + "/ro.txt", "w", "EACCES"),
        ("read", "deep_open", ws("/deep"), DEEP[6:] + "/ro.txt", "r", "ok"),
        ("secret", "deep_open", ws("/deep"), DEEP[6:] + "/.env", "r", "ENOENT"),
        ("create", "deep_open", ws("/deep"), DEEP[6:] + "/new", "creat", "EACCES"),
    ]),
    Case("deep_create_200", "a 200-deep tree made in /output (a short path)", [
        ("create", "deep_create", ws("/output/deep200"), 200, 1, "leaf",
         "ok (path 430 bytes)"),
    ]),
    Case("long_path_secret", "a hidden file and a read-only file at 3800-byte paths", [
        ("secret", "stat", ws(LONG + "/.env"), "ENOENT"),
        ("read", "read", ws(LONG + "/ro.txt"), read_is("long\n")),
        ("write", "open", ws(LONG + "/ro.txt"), "w", "EACCES"),
    ]),
    Case("long_path_4091", "a read-only file at a 4091-byte workspace path (the longest "
         "the store takes; over 4096 bytes with /workspace in front)", [
        ("read", "deep_open", ws("/longer"), LONGER[8:] + "/ro.txt", "r", "ok"),
        ("write", "deep_open", ws("/longer"), LONGER[8:] + "/ro.txt", "w", "EACCES"),
        ("secret", "deep_open", ws("/longer"), LONGER[8:] + "/.env", "r", "ENOENT"),
    ]),
    # -- hidden directories -----------------------------------------------
    Case("hidden_dir_create_inside", "create a file inside a hidden directory", [
        ("creat", "creat", ws("/secrets/new.txt"), "ENOENT"),
        ("mkdir", "mkdir", ws("/secrets/sub"), "ENOENT"),
    ]),
    Case("hidden_dir_recreate", "make a new directory where a hidden one is", [
        ("mkdir", "mkdir", ws("/secrets"), "EACCES"),
        ("old", "read", ws("/secrets/key.txt"), "ENOENT"),
    ]),
    Case("hidden_dir_in_write_dir", "a hidden directory inside /output: create in it, "
         "re-make it, read what it hid", [
        ("creat", "creat", ws("/output/secrets/new.txt"), "ENOENT"),
        ("mkdir", "mkdir", ws("/output/secrets"), Differs("EACCES", "ok", "landlock-inherit")),
        ("list", "readdir", ws("/output/secrets"), Differs("ENOENT", "ok-empty",
                                                            "landlock-inherit")),
        ("old", "read", ws("/output/secrets/old.txt"), "ENOENT"),
    ]),
    # -- other sandboxes --------------------------------------------------
    Case("search_control", "the searches below find a marker where it is", [
        ("plant", "write_new", "/tmp/control.txt", [CONTROL[:8], CONTROL[8:]], "ok"),
        ("grep", "grep", CONTROL_RE, "/workspace", "/tmp", "found in /tmp/control.txt"),
    ]),
    Case("other_sandboxes_files", "files written by a sandbox on the same codebase and by "
         "one on another codebase", [
        ("grep", "grep", OTHER_SB_RE, "/workspace", "/tmp", "/dev/shm", "/proc", "nothing"),
        ("path", "stat", ws("/output/other-sandbox.txt"), "ENOENT"),
    ]),
    Case("secret_anywhere", "the planted secret's text anywhere the sandbox can read "
         "(but /usr, the host's read-only tools)", [
        ("grep", "grep", SECRET_RE, "/workspace", "/tmp", "/dev", "/proc", "/etc",
         "nothing"),
    ]),
]


def check(enforcer: str, expect: Expect, got: str) -> Tuple[bool, str]:
    why = ""
    if isinstance(expect, Differs):
        why = "" if enforcer == "bpf-lsm" else f" ({expect.why})"
        expect = expect.bpf if enforcer == "bpf-lsm" else expect.landlock
    if callable(expect):
        return expect(got), f"<{expect.__name__}>{why}"
    return got == expect, f"{expect}{why}"


@pytest.fixture(scope="module")
def other_sandboxes(module_res):
    """A sandbox on the same codebase and one on another write a marker."""
    def write_marker(cb_id):
        sb = module_res.sandbox(cb_id, preset="full-access")
        r = module_res.client.exec(
            sb.id, f"echo {OTHER_SB_MARK} > /workspace/output/other-sandbox.txt && "
                   f"echo {OTHER_SB_MARK} > /tmp/other-sandbox.txt")
        assert r.exit_code == 0, r.stderr
    return write_marker


@pytest.fixture(scope="module")
def outcomes(module_res, enforcer, other_sandboxes):
    with open("/usr/bin/true", "rb") as f:
        elf = f.read()
    cb = module_res.codebase(files(elf), name="bypass")
    other = module_res.codebase({"output/keep": b""}, name="bypass-other")
    other_sandboxes(cb.id)
    other_sandboxes(other.id)
    sb = module_res.sandbox(cb.id, rules(), preset="agent-safe")
    assert sb.enforcer == enforcer
    return afsec.run_probe(module_res.client, sb.id,
                           [c for case in CASES for c in case.probe_cases()])


def test_enough_cases():
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bypass(outcomes, enforcer, case):
    bad = []
    for key, expect in case.expectations().items():
        ok, want = check(enforcer, expect, outcomes[key])
        if not ok:
            bad.append(f"{key}: expected {want}, got {outcomes[key]}")
    assert not bad, f"{enforcer}: {case.doc}:\n  " + "\n  ".join(bad)


def test_landlock_limitations_are_documented():
    doc = (afsec.HERE.parents[1] / "docs" / "security-model.md").read_text()
    for case in CASES:
        for expect in case.expectations().values():
            if isinstance(expect, Differs):
                assert f"({expect.why})" in doc, f"{case.name}: {expect.why} undocumented"
