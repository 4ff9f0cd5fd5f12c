import collections
import os

from hypothesis import settings

# deadline=None: numba compiles on a kernel's first call, which would trip hypothesis's timer.
# derandomize: CI runs the same examples every time, so a red run can be reproduced.
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# tests/test_fuzz.py counts the calls it tries here; the summary at the end of the run reports them.
FUZZ_CASES: collections.Counter = collections.Counter()


def pytest_terminal_summary(terminalreporter):
    if FUZZ_CASES:
        per_target = ", ".join(f"{name} {count}" for name, count in sorted(FUZZ_CASES.items()))
        terminalreporter.write_line(f"fuzz: {sum(FUZZ_CASES.values())} cases tried ({per_target})")
