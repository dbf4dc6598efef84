"""folk's benchmarks (pytest-benchmark), a package so that their conftest.py is
``benchmarks.conftest`` and never shadows the tests' ``conftest``."""
