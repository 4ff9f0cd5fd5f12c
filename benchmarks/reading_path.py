"""How many lines a learner reads: the package's code that actually runs, found by tracing it.

    python benchmarks/reading_path.py

Two runs are traced, each in a fresh process with numba's JIT off (so the kernels run as Python and are
seen): the engine leg (examples/train_by_hand.py, the seed model trained by a hand-written loop, plus one
call of the LSTM's composed reference, which the reading order puts before the fused op) and the seed
path through `fit` (the README's seed model: Sequential, compile, fit). A file's lines count when a
function in it runs: the whole function (decorators, docstring and comments included), the header of
each class around it (up to its first method), and the module's header (up to its first function or
class, its import statements left out: they are the file's wiring, which the import contracts check); a
lambda or comprehension that runs counts the function around it, or else the statement that holds it (a
property(lambda ...) in a class body). Blank lines are not counted. Each total is also printed with the
import statements counted. On the commit before issue 27 this rule gives 2,220 lines for the path through
fit, the issue's "about 2,234". The Keras leg is counted whole, file by file, as it is read.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinygrad_embed"
ENGINE_FILES = [ROOT / "examples" / "train_by_hand.py"]  # the loop itself is the engine leg's last stop
KERAS_LEG = ["models/sequential.py", "models/model.py", "models/batches.py", "models/training.py",
             "models/compile_utils.py", "callbacks/base.py"]

ENGINE_RUN = """
import runpy, numpy as np
from tinygrad_embed.layers import lstm_reference, LSTM
runpy.run_path(EXAMPLE, run_name="__main__")
layer = LSTM(3)
layer(np.zeros((2, 4, 5), np.float32))
import tinygrad_embed as tg
x = tg.Tensor(np.ones((2, 4, 5)), requires_grad=True)
lstm_reference(x, *layer.trainable_weights).sum().backward()
"""

FIT_RUN = """
import numpy as np
from tinygrad_embed.models import Sequential
from tinygrad_embed.layers import Embedding, LSTM, Dense
from tinygrad_embed.preprocessing.sequence import pad_sequences
X = pad_sequences([[5, 9, 2], [7, 1, 1, 4, 8], [3]], maxlen=6)
model = Sequential()
model.add(Embedding(10, 4, input_length=6))
model.add(LSTM(5))
model.add(Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(X, np.array([1, 0, 1]), epochs=2, batch_size=2, verbose=0)
"""


def trace(program: str) -> dict[str, list[int]]:
    """{file: first lines of the code objects of the package that ran} for one program, in a child process."""
    child = f"""
import sys, threading, json
ran = set()
def profile(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_filename.startswith({str(PACKAGE)!r}):
        # a lambda or comprehension is recorded by a negative line: what a reader reads for it is around it
        ran.add((code.co_filename, code.co_firstlineno if code.co_name[:1] != "<" else -code.co_firstlineno))
import tinygrad_embed  # the imports are not part of the path: they are traced only through the functions
EXAMPLE = {str(ROOT / "examples" / "train_by_hand.py")!r}
sys.setprofile(profile); threading.setprofile(profile)
exec(compile({program!r}, "<traced>", "exec"))
sys.setprofile(None)
out = {{}}
for name, line in ran:
    out.setdefault(name, []).append(line)
print("@@" + json.dumps(out))
"""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.split("@@")[-1])


def counted_lines(path: str, first_lines: list[int], imports: bool = False) -> set[int]:
    """The line numbers read in `path` when the functions starting at first_lines run (see the docstring);
    the module's import statements only with imports=True."""
    source = Path(path).read_text()
    tree = ast.parse(source)
    starts = {line for line in first_lines if line > 0}
    lines: set[int] = set()
    for inner in (-line for line in first_lines if line < 0):  # a lambda: the function around it, else its statement
        around = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.lineno <= inner <= n.end_lineno]
        if around:
            starts.add(max(around, key=lambda n: n.lineno).lineno)
        else:  # e.g. a property(lambda self: ...) in a class body: the statement that holds it
            statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n.lineno <= inner <= n.end_lineno
                          and not isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
            statement = min(statements, key=lambda n: n.end_lineno - n.lineno)
            lines.update(range(statement.lineno, statement.end_lineno + 1))
    body_start = next((n.lineno for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))), None)
    lines.update(range(1, (body_start or 1)))  # the module's header
    if not imports:
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                lines.difference_update(range(node.lineno, node.end_lineno + 1))

    def visit(node: ast.AST, classes: list[ast.ClassDef]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                if first in starts or child.lineno in starts:
                    lines.update(range(first, child.end_lineno + 1))
                    for cls in classes:
                        methods = [n.lineno for n in cls.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
                        lines.update(range(cls.lineno, min(methods, default=cls.end_lineno + 1)))
                visit(child, classes)
            elif isinstance(child, ast.ClassDef):
                visit(child, classes + [child])
            else:
                visit(child, classes)
    visit(tree, [])
    text = source.splitlines()
    return {n for n in lines if n <= len(text) and text[n - 1].strip()}


def rows(program: str, extra: list[Path] = ()) -> list[tuple[Path, int, int]]:
    """(file, lines read, lines read with its import statements) for each file of the package that the program
    runs through, plus the extra files whole."""
    found = []
    for path, first_lines in sorted(trace(program).items()):
        found.append((Path(path).relative_to(ROOT), len(counted_lines(path, first_lines)),
                      len(counted_lines(path, first_lines, imports=True))))
    for path in extra:
        count = sum(1 for line in path.read_text().splitlines() if line.strip())
        found.append((path.relative_to(ROOT), count, count))
    return found


def traced_total(program: str, extra: list[Path] = (), imports: bool = False) -> int:
    return sum(with_imports if imports else count for _, count, with_imports in rows(program, extra))


def report(title: str, program: str, extra: list[Path] = ()) -> tuple[int, int]:
    found = rows(program, extra)
    total, with_imports = sum(row[1] for row in found), sum(row[2] for row in found)
    print(f"\n{title}: {total} lines in {len(found)} files ({with_imports} with the import statements)")
    for path, count, _ in found:
        print(f"  {count:5d}  {path}")
    return total, with_imports


def whole_files(title: str, files: list[str]) -> int:
    rows = [(f, sum(1 for line in (PACKAGE / f).read_text().splitlines() if line.strip()))
            for f in files if (PACKAGE / f).exists()]
    total = sum(count for _, count in rows)
    print(f"\n{title}: {total} lines in {len(rows)} files, read whole")
    for name, count in rows:
        print(f"  {count:5d}  tinygrad_embed/{name}")
    return total


def main() -> None:
    engine = report("The engine leg (the hand-written loop and the LSTM's reference, traced)", ENGINE_RUN, ENGINE_FILES)
    fit = report("The seed model's path through fit (traced)", FIT_RUN)
    keras = whole_files("The Keras leg", KERAS_LEG)
    print(f"\nengine leg {engine[0]} lines ({engine[1]} with imports); Keras leg {keras} lines; "
          f"seed path through fit {fit[0]} lines ({fit[1]} with imports)")


if __name__ == "__main__":
    main()
