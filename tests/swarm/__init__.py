"""tests/swarm as a package, so its modules import as tests.swarm.<module>."""
