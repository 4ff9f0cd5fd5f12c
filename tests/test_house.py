"""The house rules a reader relies on (issue 27): no file over 400 code lines, no function over 50 lines,
and the learner's two paths within their budgets (benchmarks/reading_path.py traces them). The import
floors are import-linter contracts in pyproject.toml, run by `make lint`."""
import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinygrad_embed"
MAX_CODE_LINES, MAX_FUNCTION_LINES = 400, 50
ENGINE_BUDGET, FIT_PATH_BUDGET = 1500, 1800  # issue 27's budgets, in reading_path.py's lines


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


def test_the_learners_paths_stay_within_their_budgets():
    spec = importlib.util.spec_from_file_location("reading_path", ROOT / "benchmarks" / "reading_path.py")
    reading_path = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reading_path)
    engine = reading_path.traced_total(reading_path.ENGINE_RUN, reading_path.ENGINE_FILES)
    fit = reading_path.traced_total(reading_path.FIT_RUN)
    assert 0 < engine <= ENGINE_BUDGET, f"the engine leg reads {engine} lines, over its budget of {ENGINE_BUDGET}"
    assert 0 < fit <= FIT_PATH_BUDGET, f"the seed path through fit reads {fit} lines, over its budget of {FIT_PATH_BUDGET}"
