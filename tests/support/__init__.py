"""Helper modules of the test suite: tests/conftest.py says which holds what."""
