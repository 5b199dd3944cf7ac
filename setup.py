"""Build the optional C tracer used for per-test coverage on Python 3.11.

Python 3.12+ records with ``sys.monitoring`` and never loads it; where no compiler is present the
build skips it and greenline falls back to a pure-Python tracer.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("greenline._ctracer", ["src/greenline/_ctracer.c"], optional=True),
    ]
)
