"""tests/engine as a package, so its modules import as tests.engine.<module>."""
