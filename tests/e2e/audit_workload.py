"""The audit suite's workload: runs INSIDE a sandbox (python3 - < this file).

Reads a JSON list of cases from $AF_AUDIT_CASES, performs each, and prints
{case name: outcome} as JSON: "ok", or the errno's name.  A case is
[name, op, *args]; paths are as the sandbox sees them.  Outcomes are facts:
the tests decide what the audit trail must show for each.
"""

import errno
import json
import os
import subprocess
import sys


def ename(err: int) -> str:
    return errno.errorcode.get(err, f"E{err}")


OPEN_FLAGS = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY,
    "cx": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
    "dir": os.O_RDONLY | os.O_DIRECTORY,
}


def op_open(path, how):
    os.close(os.open(path, OPEN_FLAGS[how] | os.O_CLOEXEC, 0o644))


def op_exec(path):
    # The child's execve; its errno comes back as the OSError here.
    subprocess.run([path], check=False, capture_output=True, timeout=20)


def op_chdir_open(cwd, name, how):
    here = os.getcwd()
    os.chdir(cwd)
    try:
        op_open(name, how)
    finally:
        os.chdir(here)


def op_dirfd_unlink(dirpath, name):
    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


OPS = {
    "open": op_open,
    "unlink": os.unlink,
    "rename": os.rename,
    "link": os.link,
    "symlink": os.symlink,
    "truncate": lambda p: os.truncate(p, 0),
    "chmod": lambda p, mode: os.chmod(p, int(mode, 8)),
    "mkdir": os.mkdir,
    "rmdir": os.rmdir,
    "exec": op_exec,
    "chdir_open": op_chdir_open,
    "dirfd_unlink": op_dirfd_unlink,
}


def main() -> int:
    out = {}
    for name, op, *args in json.loads(os.environ["AF_AUDIT_CASES"]):
        try:
            OPS[op](*args)
            out[name] = "ok"
        except OSError as e:
            out[name] = ename(e.errno)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
