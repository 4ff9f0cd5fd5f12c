"""The house rules a reader relies on (issue 27): no file over 400 code lines, no function over 50 lines.
The import floors are import-linter contracts in pyproject.toml, run by `make lint`."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinygrad_embed"
MAX_CODE_LINES, MAX_FUNCTION_LINES = 400, 50


def code_lines(source: str) -> int:
    """Lines that are neither blank, nor only a comment, nor part of a docstring."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    return sum(1 for number, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and number not in docstrings)


def long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines) of every function longer than the limit, from its first decorator to its last line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - min([node.lineno] + [d.lineno for d in node.decorator_list]) + 1
            if length > MAX_FUNCTION_LINES:
                found.append((node.name, length))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_checks_can_fail():
    long = "def f():\n    '''doc'''\n" + "    x = 1\n" * 49
    assert long_functions(long) == [("f", 51)] and long_functions(long.replace("    x = 1\n", "", 1)) == []
    assert code_lines('"""doc\nmore"""\n# a comment\n\nx = 1\ny = 2  # kept\n') == 2


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_file_over_400_code_lines_and_no_function_over_50_lines(path):
    source = path.read_text()
    assert code_lines(source) <= MAX_CODE_LINES, f"{path.name} has {code_lines(source)} code lines"
    assert long_functions(source) == [], f"{path.name}: functions over {MAX_FUNCTION_LINES} lines"
