import os

from hypothesis import settings

# deadline=None: numba compiles on a kernel's first call, which would trip hypothesis's timer.
# derandomize: CI runs the same examples every time, so a red run can be reproduced.
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
