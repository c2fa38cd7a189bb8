"""The deployer's tests, as one package: suites under unit/, cli/, engine/, gateway/ and
reliability/, shared helpers under support/ (imported as ``tests.support.<module>``; pytest puts
the repository root on sys.path through ``pythonpath`` in pyproject.toml)."""
