"""Read GAP files one after the other in SageMath's libgap (PyPI package
passagemath-gap), in one Python process: what a Sage user would run
instead of `gaprun run`. Output goes to stdout as GAP prints it.

Usage: python sage_files.py FILE...   (prints "start S s, files F s" on stderr)
"""
import sys
import time

t0 = time.perf_counter()
import sage.all__sagemath_gap  # noqa: E402,F401  (sets up the Sage parent system)
from sage.libs.gap.libgap import libgap  # noqa: E402

t1 = time.perf_counter()
read = libgap.function_factory("Read")
for f in sys.argv[1:]:
    read(f)
t2 = time.perf_counter()
sys.stdout.flush()
print(f"start {t1 - t0:.3f} s, files {t2 - t1:.3f} s", file=sys.stderr)
