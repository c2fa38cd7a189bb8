"""tests/reliability as a package, so its modules import as tests.reliability.<module>."""
