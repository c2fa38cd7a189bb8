"""tests/cli as a package, so its modules import as tests.cli.<module>."""
