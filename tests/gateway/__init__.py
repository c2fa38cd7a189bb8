"""tests/gateway as a package, so its modules import as tests.gateway.<module>."""
