"""Test-wide configuration: the fixtures live in modules under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.broker",
    "tests.fixtures.secured_broker",
    "tests.fixtures.settings",
    "tests.fixtures.simulated_day",
    "tests.fixtures.receiver",
]
