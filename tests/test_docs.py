"""Every ```python block in README.md and docs/*.md runs, so the docs cannot drift from the code.
Blocks of one page share a namespace, in order. A block that cannot run here (a full training) starts
with the line `# not run: <why>` and is skipped, its reason in plain sight."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # figures or files a block writes stay out of the checkout
    namespace: dict = {"__name__": "__docs__"}
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    for number, block in enumerate(blocks, 1):
        if block.lstrip().startswith("# not run:"):
            continue
        try:
            exec(compile(block, f"{page.name}, python block {number}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"{page.name}, python block {number} failed: {error!r}\n{block}")
