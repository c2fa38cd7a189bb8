"""tests/unit as a package, so its modules import as tests.unit.<module>."""
