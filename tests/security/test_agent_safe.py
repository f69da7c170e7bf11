"""Agent-safe acceptance: what an agent sees and can change in a sandbox made
with the agent-safe preset and nothing else (ARCHITECTURE §4's preset):
secrets are nowhere to be found, /workspace/output and /tmp take writes,
nothing else in the workspace does, and .git can be neither read nor
written.  The same under both enforcers.
"""

import re
import uuid

import pytest

import afsec
from afsec import ws

SECRET = f"AF-AGENT-SAFE-{uuid.uuid4().hex}"
SECRET_RE = SECRET.replace("AF-AGENT", "AF-AGEN[T]")   # never matches itself
CONTROL = f"AF-CONTROL-{uuid.uuid4().hex}"
CONTROL_RE = CONTROL.replace("AF-CONTROL", "AF-CONTRO[L]")

HIDDEN = [".env", ".env.local", "sub/.env.production", "secrets/api.txt",
          "sub/secrets/db.txt", "server.key", "certs/cert.pem", "sub/deep/x.key",
          "credentials.json", "config/credentials.yaml", ".git/config",
          ".git/hooks/pre-commit", ".git/HEAD", "sub/.git/config"]
VISIBLE = ["README.md", "src/main.py", "src/util.py", "config/app.yaml", "certs/README",
           "sub/deep/notes.txt", "output/.keep", "tmp/.keep"]
# Names that must not appear in any listing of the workspace.
HIDDEN_NAME = re.compile(r"^(\.env.*|secrets|.*\.key|.*\.pem|credentials.*|\.git)$")
# /usr is the host's read-only tools (gigabytes, not the codebase's).
NOT_SEARCHED = ("usr",)


def files():
    out = {p: f"{SECRET}\n".encode() for p in HIDDEN}
    out.update({p: f"visible {p}\n".encode() for p in VISIBLE})
    out["output/existing.txt"] = b"to be replaced\n"
    return out


CASES = [
    # searching for the secret, with a control that the search works
    ("plant_control", "write_new", "/tmp/control.txt", [CONTROL[:8], CONTROL[8:]]),
    ("grep_control", "grep_root", CONTROL_RE, *NOT_SEARCHED),
    ("grep_secret", "grep_root", SECRET_RE, *NOT_SEARCHED),
    ("grep_secret_sh", "sh", "echo found: $(grep -rlsE --exclude=pagemap '" + SECRET_RE +
     "' $(find / -mindepth 1 -maxdepth 1 -type d ! -name usr))"),
    ("ls", "ls_la", ws("")),
    ("hidden_names", "find_names", ws(""), ".env*", "secrets", "*.key", "*.pem",
     "credentials*", ".git"),
    # writes that work
    ("output_new", "write_new", ws("/output/result.txt")),
    ("output_mkdir", "mkdir", ws("/output/sub")),
    ("output_nested", "write_new", ws("/output/sub/r.txt")),
    ("output_existing", "write_new", ws("/output/existing.txt")),
    ("ws_tmp_new", "write_new", ws("/tmp/scratch.txt")),
    ("tmp_new", "write_new", "/tmp/scratch.txt"),
    ("tmp_mkdir", "mkdir", "/tmp/dir"),
    # writes that fail
    ("root_new", "write_new", ws("/new.txt")),
    ("root_mkdir", "mkdir", ws("/newdir")),
    ("readme_write", "open", ws("/README.md"), "w"),
    ("readme_truncate", "truncate", ws("/README.md")),
    ("src_write", "write_new", ws("/src/main.py")),
    ("src_new", "write_new", ws("/src/new.py")),
    ("src_unlink", "unlink", ws("/src/util.py")),
    ("src_rename", "rename", ws("/src/util.py"), ws("/output/util.py")),
    ("etc_new", "write_new", "/etc/agent.txt"),
    ("usr_new", "write_new", "/usr/agent.txt"),
    # .git
    ("git_config_read", "read", ws("/.git/config")),
    ("git_config_write", "open", ws("/.git/config"), "w"),
    ("git_config_create", "write_new", ws("/.git/config")),
    ("git_hook_read", "read", ws("/.git/hooks/pre-commit")),
    ("git_hook_write", "write_new", ws("/.git/hooks/pre-commit")),
    ("git_hook_new", "write_new", ws("/.git/hooks/post-checkout")),
    ("git_mkdir", "mkdir", ws("/.git")),
    ("git_rename_in", "rename", ws("/output/result.txt"), ws("/.git/config")),
    ("git_nested_read", "read", ws("/sub/.git/config")),
    # every hidden file, read directly
    *[(f"read {p}", "read", ws("/" + p)) for p in HIDDEN],
    # every visible file is readable (the view is not empty for the wrong reason)
    *[(f"read {p}", "read", ws("/" + p)) for p in VISIBLE],
]

EXPECT = {
    "plant_control": "ok",
    "grep_control": "found in /tmp/control.txt",
    "grep_secret": "nothing",
    "grep_secret_sh": "exit 0: found:\n",
    "hidden_names": "none",
    **{k: "ok" for k in ("output_new", "output_mkdir", "output_nested", "output_existing",
                         "ws_tmp_new", "tmp_new", "tmp_mkdir")},
    **{k: "EACCES" for k in ("root_new", "root_mkdir", "readme_write", "readme_truncate",
                             "src_write", "src_new", "src_unlink", "src_rename")},
    "etc_new": "EROFS",
    "usr_new": "EROFS",
    **{k: "ENOENT" for k in ("git_config_read", "git_config_write", "git_config_create",
                             "git_hook_read", "git_hook_write", "git_hook_new",
                             "git_rename_in", "git_nested_read")},
    "git_mkdir": "EACCES",
    **{f"read {p}": "ENOENT" for p in HIDDEN},
    **{f"read {p}": f"data:visible {p}\n" for p in VISIBLE},
}


@pytest.fixture(scope="module")
def outcomes(module_res, enforcer):
    cb = module_res.codebase(files(), name="agent-safe")
    sb = module_res.sandbox(cb.id, preset="agent-safe")
    assert sb.enforcer == enforcer
    return afsec.run_probe(module_res.client, sb.id, CASES)


@pytest.mark.parametrize("name", list(EXPECT))
def test_outcome(outcomes, name):
    assert outcomes[name] == EXPECT[name]


def listed_names(ls_output: str):
    """Entry names in `ls -laR` output (the last field of entry lines)."""
    for line in ls_output.splitlines():
        fields = line.split()
        if len(fields) >= 9 and line[:1] in "-dlcbps":
            yield fields[-1] if "->" not in fields else fields[fields.index("->") - 1]


def test_ls_la_shows_no_secrets(outcomes):
    out = outcomes["ls"]
    assert out.startswith("out:")
    names = set(listed_names(out[4:]))
    assert {"README.md", "src", "output", "tmp", "config", "certs", "sub"} <= names
    assert not {n for n in names if HIDDEN_NAME.match(n)}
