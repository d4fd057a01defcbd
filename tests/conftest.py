"""Shared fixtures live in tests/fixtures/ (one module per service); this file only lists them."""

pytest_plugins = [
    "tests.fixtures.azurite",
    "tests.fixtures.localcloud",
    "tests.fixtures.images",
    "tests.fixtures.pipeline",
]
