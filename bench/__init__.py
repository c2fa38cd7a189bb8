"""Benchmarks of the deployer, run from the repository root as modules (python3 -m bench.run),
so they import the shared test helpers as tests.support.<module> like the tests do. The programs
bench.run starts in fresh processes are modules too (bench/children/); every timing goes through
bench.timing."""
