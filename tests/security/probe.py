"""The security suites' probe: runs INSIDE a sandbox (python3 - < probe.py).

It reads a JSON list of cases from the environment variable AF_PROBE_CASES
(not argv, which the agent-safe suite's grep would see in /proc), performs
each one, and prints one JSON object {case name: outcome} on stdout.  Only
the standard library is used: the sandbox has the host's read-only /usr.

A case is [name, op, *args], paths absolute as the sandbox sees them.  An
outcome is a string: "ok" when the call succeeded, else the errno's name
("EACCES"); a few operations return data ("listed"/"absent", "data:TEXT",
"nothing" from a search).  Creating calls add
"+exists" when they failed but left the entry behind, so that a partial
effect can never pass for a clean denial.

Outcomes are facts, never verdicts: what is expected is decided by the
tests on the host, so nothing here can make a test pass by itself.
"""

import ctypes
import errno
import json
import mmap
import os
import signal
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD = -100
WORKSPACE = "/workspace"

# x86_64 system call numbers (the sandbox accepts the native ABI only).
SYS_IO_URING_SETUP, SYS_IO_URING_ENTER = 425, 426
SYS_NAME_TO_HANDLE_AT, SYS_OPEN_BY_HANDLE_AT = 303, 304
SYS_RENAMEAT2 = 316
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
TIOCSTI = 0x5412
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
LOADER = "/lib64/ld-linux-x86-64.so.2"


def ename(err: int) -> str:
    return errno.errorcode.get(err, f"E{err}")


def outcome(fn, *args) -> str:
    """ "ok", or the name of the errno fn raised."""
    try:
        fn(*args)
        return "ok"
    except OSError as e:
        return ename(e.errno)


def sys_outcome(ret: int) -> str:
    return ename(ctypes.get_errno()) if ret < 0 else "ok"


def p(path: str) -> str:
    """Paths in cases are absolute paths as the sandbox sees them."""
    if not path.startswith("/"):
        raise ValueError(f"relative path in a case: {path!r}")
    return path


def creating(fn, path: str, *args) -> str:
    """Run a call that creates path; "+exists" if it failed but path is
    there now and was not before."""
    existed = os.path.lexists(path)
    res = outcome(fn, *args)
    if res != "ok" and not existed and os.path.lexists(path):
        res += "+exists"
    return res


def size_of(path: str):
    try:
        return os.lstat(path).st_size
    except OSError:
        return None


# -- the permission table's operations -------------------------------------

def op_stat(path):
    return outcome(os.lstat, p(path))


def op_listed(path):
    """Does the entry appear in its directory's listing?"""
    d, name = os.path.split(p(path))
    try:
        return "listed" if name in os.listdir(d) else "absent"
    except OSError as e:
        return "parent " + ename(e.errno)


def op_readdir(path):
    """opendir + readdir: "ok" when it lists entries, "ok-empty" when none."""
    try:
        names = os.listdir(p(path))
    except OSError as e:
        return ename(e.errno)
    return "ok" if names else "ok-empty"


def _open_close(path, flags, mode=0o644):
    os.close(os.open(path, flags | os.O_CLOEXEC, mode))


def op_open(path, flags):
    """open(); a refused O_TRUNC that still shortened the file adds
    "+truncated"."""
    flag = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR,
            "rtrunc": os.O_RDONLY | os.O_TRUNC, "wtrunc": os.O_WRONLY | os.O_TRUNC,
            "path": os.O_PATH, "dir": os.O_RDONLY | os.O_DIRECTORY}[flags]
    before = size_of(p(path))
    res = outcome(_open_close, p(path), flag)
    if res != "ok" and before != size_of(p(path)):
        res += "+truncated"
    return res


def op_read(path):
    """The file's text, or the errno's name."""
    try:
        with open(p(path), "rb") as f:
            return "data:" + f.read(4096).decode(errors="replace")
    except OSError as e:
        return ename(e.errno)


def op_size(path):
    try:
        return str(os.lstat(p(path)).st_size)
    except OSError as e:
        return ename(e.errno)


def op_creat(path):
    full = p(path)
    return creating(_open_close, full, full, os.O_WRONLY | os.O_CREAT | os.O_EXCL)


def op_write_new(path, text="new\n"):
    """Create (or replace the content of) a file and write text to it; a
    list is joined, so that a marker need not appear whole in the case list
    (which a search of /proc would find in our environment)."""
    if isinstance(text, list):
        text = "".join(text)

    def go():
        fd = os.open(p(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    return creating(go, p(path))


def op_mkdir(path):
    return creating(os.mkdir, p(path), p(path))


def op_symlink(target, path):
    return creating(os.symlink, p(path), target, p(path))


def op_unlink(path):
    return outcome(os.unlink, p(path))


def op_rmdir(path):
    """Empty the directory first where allowed: the store holds no empty
    directories, and a non-empty one would say ENOTEMPTY instead of ok."""
    full = p(path)
    try:
        for name in os.listdir(full):
            try:
                os.unlink(os.path.join(full, name))
            except OSError:
                pass
    except OSError:
        pass
    return outcome(os.rmdir, full)


def op_rename(src, dst):
    return creating(os.rename, p(dst), p(src), p(dst))


def op_renameat2(src, dst, how):
    flags = {"noreplace": RENAME_NOREPLACE, "exchange": RENAME_EXCHANGE}[how]
    ret = libc.syscall(SYS_RENAMEAT2, AT_FDCWD, p(src).encode(), AT_FDCWD,
                       p(dst).encode(), flags)
    return sys_outcome(ret)


def op_link(src, dst):
    return creating(os.link, p(dst), p(src), p(dst))


def op_symlink_open(target, link):
    """Make a symlink to target (in a writable place), then read through it."""
    made = outcome(os.symlink, p(target), p(link))
    if made != "ok":
        return "symlink " + made
    return outcome(_open_close, p(link), os.O_RDONLY)


def op_chmod(path, mode=0o640):
    return outcome(os.chmod, p(path), mode)


def op_chown(path):
    return outcome(os.chown, p(path), 0, 0)


def op_utime(path):
    return outcome(os.utime, p(path), None)


def op_setxattr(path):
    return outcome(os.setxattr, p(path), "user.af", b"1")


def op_truncate(path, length=0):
    before = size_of(p(path))
    res = outcome(os.truncate, p(path), length)
    if res != "ok" and before != size_of(p(path)):
        res += "+truncated"
    return res


def op_exec(path):
    """Run the file (an ELF) through the dynamic loader, as `ld.so FILE` does:
    stored files are 0644, so execve() on them fails for every level alike."""
    try:
        r = subprocess.run([LOADER, p(path)], capture_output=True, timeout=20)
    except OSError as e:
        return "loader " + ename(e.errno)
    if r.returncode == 0:
        return "ok"
    err = r.stderr.decode(errors="replace")
    for e in (errno.ENOENT, errno.EACCES, errno.EPERM):
        if os.strerror(e) in err:
            return ename(e)
    return f"exit {r.returncode}: {err.strip()[:200]}"


def op_mmap_write(path):
    """A shared writable mapping: opened O_RDWR where that works, else
    O_RDONLY (which must then refuse PROT_WRITE)."""
    full = p(path)
    try:
        fd = os.open(full, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        try:
            fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            return ename(e.errno)
    try:
        m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m.close()
        return "ok"
    except OSError as e:
        return ename(e.errno)
    finally:
        os.close(fd)


# -- bypass attempts ---------------------------------------------------------

def op_mmap_private_write(path):
    """Write through a private mapping of a read-only fd; the file must not change."""
    full = p(path)
    try:
        fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        return ename(e.errno)
    try:
        before = os.pread(fd, 4096, 0)
        m = mmap.mmap(fd, 0, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:1] = b"X" if before[:1] != b"X" else b"Y"
        m.flush()
        m.close()
        return "unchanged" if os.pread(fd, 4096, 0) == before else "file changed"
    except OSError as e:
        return ename(e.errno)
    finally:
        os.close(fd)


def op_mprotect_write(path):
    """Map a read-only fd shared PROT_READ, then ask for PROT_WRITE."""
    full = p(path)
    try:
        fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        return ename(e.errno)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    addr = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    os.close(fd)
    if addr in (None, ctypes.c_void_p(-1).value):
        return "mmap " + ename(ctypes.get_errno())
    ret = libc.mprotect(ctypes.c_void_p(addr), 4096, mmap.PROT_READ | mmap.PROT_WRITE)
    res = sys_outcome(ret)
    libc.munmap(ctypes.c_void_p(addr), ctypes.c_size_t(4096))
    return res


def op_reopen_fd(path, first, then):
    """Open path with `first` flags (e.g. O_PATH or O_RDONLY), then reopen
    it through /proc/self/fd/N with `then`."""
    flags = {"path": os.O_PATH, "r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}
    try:
        fd = os.open(p(path), flags[first] | os.O_CLOEXEC)
    except OSError as e:
        return "first " + ename(e.errno)
    try:
        return outcome(_open_close, f"/proc/self/fd/{fd}", flags[then])
    finally:
        os.close(fd)


def op_sibling_fd(path):
    """Another process of the sandbox holds path open read-only; reopen its fd
    for writing through /proc/PID/fd."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(p(path), os.O_RDONLY)
            os.write(w, str(fd).encode())
        except OSError as e:
            os.write(w, b"E" + str(e.errno).encode())
        time.sleep(30)
        os._exit(0)
    os.close(w)
    msg = os.read(r, 64).decode()
    os.close(r)
    try:
        if msg.startswith("E"):
            return "child " + ename(int(msg[1:]))
        return outcome(_open_close, f"/proc/{pid}/fd/{msg}", os.O_RDWR)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def op_proc_fds(pid):
    """Every fd of process pid, reopened read-only: "ok" if any opens."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError as e:
        return "list " + ename(e.errno)
    opened = []
    for n in names:
        try:
            _open_close(f"/proc/{pid}/fd/{n}", os.O_RDONLY)
            opened.append(n)
        except OSError:
            pass
    return "opened " + ",".join(sorted(opened, key=int)) if opened else "none opened"


def op_own_fds():
    """The fds a command starts with, besides the one listdir uses."""
    names = sorted(int(n) for n in os.listdir("/proc/self/fd"))
    return ",".join(str(n) for n in names[:-1] if n > 2) or "0-2 only"


def op_environ_has(pid, name):
    """Whether process pid has an environment variable `name`."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            entries = f.read().split(b"\0")
    except OSError as e:
        return ename(e.errno)
    prefix = name.encode() + b"="
    return "found" if any(e.startswith(prefix) for e in entries) else "absent"


def op_io_uring_openat(path, flags):
    """IORING_OP_OPENAT on path; the fd's outcome as open() would report it."""
    class Params(ctypes.Structure):
        _fields_ = [("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32),
                    ("flags", ctypes.c_uint32), ("sq_thread_cpu", ctypes.c_uint32),
                    ("sq_thread_idle", ctypes.c_uint32), ("features", ctypes.c_uint32),
                    ("wq_fd", ctypes.c_uint32), ("resv", ctypes.c_uint32 * 3),
                    ("sq_off", ctypes.c_uint32 * 10), ("cq_off", ctypes.c_uint32 * 10)]
    prm = Params()
    ring = libc.syscall(SYS_IO_URING_SETUP, 4, ctypes.byref(prm))
    if ring < 0:
        return "setup " + ename(ctypes.get_errno())
    try:
        return _uring_openat(ring, prm, p(path), flags)
    finally:
        os.close(ring)


def _uring_openat(ring, prm, path, flags):
    sq_off, cq_off = prm.sq_off, prm.cq_off  # head tail mask entries flags dropped array
    sq = mmap.mmap(ring, sq_off[6] + prm.sq_entries * 4, offset=0)
    cq = mmap.mmap(ring, cq_off[5] + prm.cq_entries * 16, offset=0x8000000)
    sqes = mmap.mmap(ring, prm.sq_entries * 64, offset=0x10000000)
    u32 = lambda m, off: int.from_bytes(m[off:off + 4], "little")
    name = ctypes.create_string_buffer(path.encode())
    sqe = bytearray(64)
    sqe[0] = 18                                             # IORING_OP_OPENAT
    sqe[4:8] = AT_FDCWD.to_bytes(4, "little", signed=True)
    sqe[16:24] = ctypes.addressof(name).to_bytes(8, "little")
    sqe[28:32] = (flags | os.O_CLOEXEC).to_bytes(4, "little")
    sqes[0:64] = bytes(sqe)
    tail = u32(sq, sq_off[1])
    idx = tail & u32(sq, sq_off[2])
    sq[sq_off[6] + idx * 4:sq_off[6] + idx * 4 + 4] = (0).to_bytes(4, "little")
    sq[sq_off[1]:sq_off[1] + 4] = (tail + 1).to_bytes(4, "little")
    if libc.syscall(SYS_IO_URING_ENTER, ring, 1, 1, 1, None, 0) < 0:
        return "enter " + ename(ctypes.get_errno())
    head = u32(cq, cq_off[0]) & u32(cq, cq_off[2])
    res = int.from_bytes(cq[cq_off[5] + head * 16 + 8:cq_off[5] + head * 16 + 12],
                         "little", signed=True)
    if res >= 0:
        os.close(res)
        return "ok"
    return ename(-res)


def op_open_by_handle(path, flags):
    """name_to_handle_at on path, then open_by_handle_at with flags."""
    buf = ctypes.create_string_buffer(8 + 128)
    ctypes.c_uint32.from_buffer(buf, 0).value = 128
    mount_id = ctypes.c_int()
    if libc.syscall(SYS_NAME_TO_HANDLE_AT, AT_FDCWD, p(path).encode(), buf,
                    ctypes.byref(mount_id), 0) < 0:
        return "name_to_handle_at " + ename(ctypes.get_errno())
    mfd = os.open(os.path.dirname(p(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fl = {"r": os.O_RDONLY, "rw": os.O_RDWR}[flags]
        fd = libc.syscall(SYS_OPEN_BY_HANDLE_AT, mfd, buf, fl)
        if fd < 0:
            return "open_by_handle_at " + ename(ctypes.get_errno())
        os.close(fd)
        return "ok"
    finally:
        os.close(mfd)


def op_tiocsti():
    """Push a character into the input of each terminal-ish fd we can get."""
    results = set()
    c = ctypes.c_char(b"x")
    fds = [0, 1, 2]
    try:
        fds.append(os.open("/dev/tty", os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        results.add("/dev/tty " + ename(e.errno))
    for fd in fds:
        results.add(sys_outcome(libc.ioctl(fd, TIOCSTI, ctypes.byref(c))))
    for fd in fds[3:]:
        os.close(fd)
    return " ".join(sorted(results))


def op_unshare(what):
    flags = {"user": CLONE_NEWUSER, "mount": CLONE_NEWNS,
             "user+mount": CLONE_NEWUSER | CLONE_NEWNS}[what]
    return sys_outcome(libc.unshare(flags))


def op_mount(source, target, fstype, bind):
    MS_BIND = 4096
    ret = libc.mount(source.encode(), p(target).encode(),
                     fstype.encode() if fstype else None,
                     MS_BIND if bind else 0, None)
    return sys_outcome(ret)


def op_chroot(path):
    return outcome(os.chroot, p(path))


def op_deep_create(base, depth, name_len, leaf):
    """mkdir a chain of `depth` directories of name_len characters below base
    with *at calls (so no single path argument is long), then create a file
    at the bottom; reports the mkdir or the create outcome and the total
    path length reached."""
    try:
        os.mkdir(p(base))
    except OSError as e:
        return f"mkdir base {ename(e.errno)}"
    fd = os.open(p(base), os.O_RDONLY | os.O_DIRECTORY)
    total = len(p(base))
    try:
        for i in range(depth):
            name = (f"{i % 10}" * name_len)[:name_len]
            try:
                os.mkdir(name, dir_fd=fd)
            except OSError as e:
                return f"mkdir {ename(e.errno)} at depth {i} (path {total} bytes)"
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            total += 1 + name_len
        try:
            os.close(os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644,
                             dir_fd=fd))
            return f"ok (path {total + 1 + len(leaf)} bytes)"
        except OSError as e:
            return f"create {ename(e.errno)} (path {total + 1 + len(leaf)} bytes)"
    finally:
        os.close(fd)


def op_deep_open(base, rel, flags):
    """Open base/rel walking one component at a time with openat()."""
    fd = os.open(p(base), os.O_RDONLY | os.O_DIRECTORY)
    parts = rel.split("/")
    try:
        for part in parts[:-1]:
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        fl = {"r": os.O_RDONLY, "w": os.O_WRONLY, "creat": os.O_WRONLY | os.O_CREAT}[flags]
        return outcome(lambda: os.close(os.open(parts[-1], fl | os.O_CLOEXEC, 0o644,
                                                dir_fd=fd)))
    except OSError as e:
        return "walk " + ename(e.errno)
    finally:
        os.close(fd)


def op_long_path(path_len):
    """A path argument of path_len bytes (through ./ components into the
    workspace): ENAMETOOLONG beyond PATH_MAX, never a wrong answer."""
    pad = "./" * ((path_len - len(WORKSPACE) - 1) // 2)
    path = (WORKSPACE + "/" + pad)[:path_len]
    return outcome(os.stat, path)


def op_grep(pattern, *roots):
    """grep -r for a regex below roots; the matching files, or "nothing".
    /proc/*/pagemap is skipped: it reads as one entry per page of the whole
    address space (hundreds of GiB of page frame numbers, no file data)."""
    r = subprocess.run(["grep", "-rlsE", "--exclude=pagemap", "--", pattern, *roots],
                       capture_output=True, timeout=600)
    found = r.stdout.decode(errors="replace").split()
    return "nothing" if not found else "found in " + " ".join(found[:20])


def op_grep_root(pattern, *skip):
    """op_grep over every top-level directory of / but those in skip.  The
    symlinks there (/bin -> usr/bin on a merged-/usr host) are not
    followed, as grep -r does not follow them below the top."""
    roots = sorted(e.path for e in os.scandir("/")
                   if e.name not in skip and e.is_dir(follow_symlinks=False))
    return op_grep(pattern, *roots)


def op_find_names(root, *names):
    """Entries below root whose name matches one of the shell patterns."""
    import fnmatch
    hits = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            if any(fnmatch.fnmatch(n, pat) for pat in names):
                hits.append(os.path.join(dirpath, n))
    return "none" if not hits else " ".join(sorted(hits)[:20])


def op_ls_la(path):
    r = subprocess.run(["ls", "-laR", p(path)], capture_output=True, timeout=60)
    return "out:" + r.stdout.decode(errors="replace")


def op_sh(cmd):
    r = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, timeout=60)
    return f"exit {r.returncode}: {r.stdout.decode(errors='replace')[:500]}"


OPS = {name[3:]: fn for name, fn in list(globals().items()) if name.startswith("op_")}


def main():
    cases = json.loads(os.environ["AF_PROBE_CASES"])
    results = {}
    for name, op, *args in cases:
        try:
            results[name] = OPS[op](*args)
        except Exception as e:  # a probe bug must show, not pass
            results[name] = f"probe error: {type(e).__name__}: {e}"
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
