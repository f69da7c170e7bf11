"""The default seccomp profile, from inside a real sandbox
(docs/security-model.md, "System calls").

The helper $AF_BUILD_DIR/tests/helpers/try-syscall is uploaded into the
codebase and run from the sandbox's /tmp; each case is its own test.  It
prints "NAME: OK" or "NAME: ERRNO (...)" and exits with the errno, or with
128+N when the case's child was killed by signal N.
"""

import errno
import os
import signal
import subprocess

import pytest

import afe2e
import agentfense as af

HELPER = os.path.join(afe2e.build_dir(), "tests", "helpers", "try-syscall")

# Refused with EPERM.
DENIED = [
    # mounts
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "open_tree_attr",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "chroot", "setns",
    # unprivileged kernel surface
    "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "userfaultfd", "keyctl", "add_key", "request_key",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # file handles
    "open_by_handle_at", "name_to_handle_at",
    # machine-wide state
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "syslog", "quotactl", "quotactl_fd",
    "vhangup", "iopl", "ioperm", "settimeofday", "clock_settime", "adjtimex",
    "clock_adjtime", "lookup_dcookie", "nfsservctl",
    # namespaces, flag by flag
    *[f"{call}-{ns}" for ns in ("user", "mount", "pid", "net", "ipc", "uts", "cgroup")
      for call in ("unshare", "clone")],
    "unshare-time", "clone-user-high",
    # terminal ioctls and personalities, also with high bits set
    "ioctl-tiocsti", "ioctl-tiocsti-high", "ioctl-tioclinux", "ioctl-tioclinux-high",
    "personality-noaslr", "personality-linux32", "personality-high", "personality-upper",
]
# clone3 cannot be checked (flags in memory): ENOSYS, so libc falls back to clone.
NOT_IMPLEMENTED = ["clone3-user", "clone3-plain"]
# Another ABI than x86_64's: the process is killed.
KILLED = ["int80-getpid", "int80-unshare-user", "x32-getpid"]
# Controls: must keep working.
ALLOWED = ["getpid", "fork", "clone-plain", "thread", "spawn", "unshare-files",
           "ioctl-fionread", "personality-query", "personality-linux"]

EXPECT = {**{n: "deny" for n in DENIED}, **{n: "enosys" for n in NOT_IMPLEMENTED},
          **{n: "kill" for n in KILLED}, **{n: "allow" for n in ALLOWED}}


def _helper_on_host(*args) -> subprocess.CompletedProcess:
    return subprocess.run([HELPER, *args], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def sandbox(daemon):
    """One full-access sandbox holding the helper at /tmp/t."""
    if not os.access(HELPER, os.X_OK):
        pytest.skip(f"{HELPER} is missing: build the try-syscall target")
    with af.SandboxClient(daemon.endpoint) as c:
        cb = c.create_codebase("seccomp", owner_id="e2e")
        sb = None
        try:
            with open(HELPER, "rb") as f:
                c.upload_file(cb.id, "try-syscall", f)
            sb = c.create_sandbox(cb.id, preset="full-access")
            c.start_sandbox(sb.id)
            r = c.exec(sb.id, "cp /workspace/try-syscall /tmp/t && chmod +x /tmp/t")
            assert r.exit_code == 0, r.stderr
            yield c, sb.id
        finally:
            if sb is not None:
                c.destroy_sandbox(sb.id)
            c.delete_codebase(cb.id)


def run_case(sandbox, name):
    c, sb = sandbox
    return c.exec(sb, f"/tmp/t {name}", timeout=30)


def test_cases_match_the_helper():
    """This file and try-syscall --list name the same cases and outcomes."""
    if not os.access(HELPER, os.X_OK):
        pytest.skip(f"{HELPER} is missing: build the try-syscall target")
    listed = dict(line.split() for line in _helper_on_host("--list").stdout.splitlines())
    assert listed == EXPECT


def _seccomp_status(text: str) -> dict:
    fields = ("NoNewPrivs", "Seccomp", "Seccomp_filters")
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k: int(v) for k, v in pairs if k in fields}


def test_filter_is_installed(sandbox):
    """Exactly one filter more than the daemon inherited from us."""
    c, sb = sandbox
    with open("/proc/self/status") as f:
        ours = _seccomp_status(f.read())
    r = c.exec(sb, "cat /proc/self/status")
    assert _seccomp_status(r.stdout) == {
        "NoNewPrivs": 1, "Seccomp": 2, "Seccomp_filters": ours["Seccomp_filters"] + 1}


@pytest.mark.parametrize("name", DENIED)
def test_denied(sandbox, name):
    r = run_case(sandbox, name)
    assert (r.exit_code, r.stdout) == (errno.EPERM, f"{name}: EPERM (Operation not permitted)\n"), r.stderr


@pytest.mark.parametrize("name", NOT_IMPLEMENTED)
def test_clone3_is_not_implemented(sandbox, name):
    r = run_case(sandbox, name)
    assert (r.exit_code, r.stdout) == (errno.ENOSYS, f"{name}: ENOSYS (Function not implemented)\n")


@pytest.mark.parametrize("name", KILLED)
def test_other_abi_kills(sandbox, name):
    if name.startswith("int80-") and _helper_on_host("int80-getpid").returncode != 0:
        pytest.skip("int 0x80 does not work on this kernel even without a filter "
                    "(no IA32 emulation)")
    r = run_case(sandbox, name)
    assert (r.exit_code, r.stdout) == (128 + signal.SIGSYS, f"{name}: killed by SIGSYS\n")


@pytest.mark.parametrize("name", ALLOWED)
def test_allowed(sandbox, name):
    r = run_case(sandbox, name)
    assert (r.exit_code, r.stdout) == (0, f"{name}: OK\n"), r.stderr


def test_everyday_programs_still_work(sandbox):
    """Dynamically linked programs take glibc's clone3 -> clone fallback."""
    c, sb = sandbox
    r = c.exec(sb, "python3 -c 'import threading; t = threading.Thread(target=print, "
                   "args=(\"thread\",)); t.start(); t.join()'")
    assert (r.exit_code, r.stdout) == (0, "thread\n"), r.stderr
    r = c.exec(sb, "sleep 0 & wait $! && echo bg")
    assert (r.exit_code, r.stdout) == (0, "bg\n"), r.stderr


def test_refusal_reaches_the_program(sandbox):
    """A tool that needs a refused call fails with EPERM, it is not killed."""
    c, sb = sandbox
    r = c.exec(sb, "command -v unshare >/dev/null || exit 99; unshare --user true")
    if r.exit_code == 99:
        pytest.skip("no unshare(1) in the sandbox")
    assert r.exit_code == 1 and "Operation not permitted" in r.stderr, (r.exit_code, r.stderr)
