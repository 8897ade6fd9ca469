"""Every ```python block of README.md runs as written, in order, in one namespace, against a real
server ($DAQLAB_URL): what the README shows is what daqlab does. A block whose first line is
``# not run by the tests: <why>`` (something a test machine has not: a Slurm cluster, a batch job's
output) is skipped, and the README says so where a reader sees it."""
from __future__ import annotations

import ast
import contextlib
import io
import re
import textwrap
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
#: the marker of a block the tests do not run (it must say why)
NOT_RUN = re.compile(r"^# not run by the tests: \S")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block."""
    blocks, lines, start, code = [], text.splitlines(), None, []
    for n, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start, code = n + 1, []
        elif start is not None and line.strip() == "```":
            blocks.append((start, textwrap.dedent("\n".join(code)) + "\n"))  # blocks inside list items are indented
            start = None
        elif start is not None:
            code.append(line)
    return blocks


def test_the_readme_marks_few_blocks_and_says_why():
    blocks = python_blocks(README.read_text())
    skipped = [code for _, code in blocks if code.startswith("# not run")]
    assert all(NOT_RUN.match(code) for code in skipped), skipped
    # a Slurm cluster or a batch job's output (3), counterparts that live in their own venvs (bluesky, pyicat-plus)
    # and receiver hosts on other machines (1)
    assert len(blocks) >= 10 and len(skipped) <= 6, (len(blocks), len(skipped))


def test_every_python_block_of_the_readme_runs(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DAQLAB_URL", server.url)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    ran = 0
    for line, code in python_blocks(README.read_text()):
        if NOT_RUN.match(code):
            continue
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(ast.parse(code), f"README.md:{line}", "exec"), namespace)
        except Exception as err:  # noqa: BLE001 - report which block failed and how
            pytest.fail(f"README.md block at line {line} failed: {type(err).__name__}: {err}\n{code}\n{out.getvalue()[-2000:]}")
        ran += 1
    assert ran >= 8
    namespace["c"].close()


def test_the_detectors_the_readme_lists_are_the_servers(client):
    text = README.read_text()
    listed = re.search(r"c\.detectors\(\)\s+# (\[.*\])", text)
    assert listed, "the README shows c.detectors()'s answer"
    assert ast.literal_eval(listed.group(1)) == client.detectors()
    table = re.findall(r"^\| `(sim-[\w-]+)` \|", text, re.M)
    assert table == client.detectors()
