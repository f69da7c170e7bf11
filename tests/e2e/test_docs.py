"""The SDK docs' code: every ```python block of docs/sdk/*.md runs, page by
page in a fresh interpreter (blocks of a page share their variables, as a
reader would run them in order), from a directory holding ./my-project,
against the e2e daemon (reached through $AGENTFENSE_ENDPOINT)."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]
DOCS = TOP / "docs" / "sdk"
PAGES = sorted(DOCS.glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(page):
    return BLOCK.findall(page.read_text())


def make_project(root):
    files = {
        "README.md": "# my project\n",
        "src/main.py": "print('hi')\n",
        "backend/manage.py": "print('ok')\n",
        ".env": "TOKEN=1\n",
        "secrets/api.key": "k\n",
        "certs/server.pem": "cert\n",
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / "output").mkdir()
    (root / "reports").mkdir()


def test_every_page_has_code():
    assert {p.stem for p in PAGES} >= {"quickstart", "permissions", "sessions", "async",
                                       "errors"}
    for page in PAGES:
        assert blocks(page), page


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_runs(page, daemon, tmp_path):
    make_project(tmp_path / "my-project")
    script = tmp_path / f"{page.stem}.py"
    script.write_text("\n\n".join(blocks(page)))
    env = dict(os.environ, AGENTFENSE_ENDPOINT=daemon.endpoint,
               PYTHONPATH=str(TOP / "sdk" / "python"))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{page.name}:\n{r.stdout}\n{r.stderr}"
