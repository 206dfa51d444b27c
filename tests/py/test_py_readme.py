"""The README's Python examples, executed. Each ```python block runs in order in one namespace
per README, inside a temporary directory. A block right after a line `<!-- no-test -->` is
skipped."""
import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def python_blocks(text):
    blocks = []
    for m in re.finditer(r"(?P<pre>[^\n]*\n)?```python[^\n]*\n(?P<code>.*?)```", text, re.S):
        if "no-test" in (m.group("pre") or ""):
            continue
        blocks.append(m.group("code"))
    return blocks


def test_readme_python_examples(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text())
    assert blocks, "README.md has no ```python blocks"
    import lampy as lp
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__readme__"}
    with lp.config():  # whatever the examples configure is undone afterwards
        for i, code in enumerate(blocks):
            try:
                exec(compile(code, f"README.md[python block {i + 1}]", "exec"), ns)
            except Exception as e:
                raise AssertionError(f"README python block {i + 1} failed: {e!r}\n{code}") from e
