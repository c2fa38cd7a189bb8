"""Test support shared by the unit, cli, engine, gateway and reliability suites and the bench.
Import as ``from tests.support.<module> import ...`` (pytest puts the repository root on sys.path
through ``pythonpath`` in pyproject.toml; the bench runs as ``python3 -m bench.<name>`` from it).

No Docker needed:
    fake_backend     FakeBackend: the whole backend contract in memory (units, names, states,
                     markers, a call log, injected failures), for the applier, lock and bench
    planner_cases    plain-data bots and the containers the engine would show for them
    inspect_cases    the bots behind tests/unit/data/inspect/*.json, and their recorder
    hostile_cases    fixed hostile inputs for `deployer validate`, each run in a measured process
    hostile_corpus   hypothesis strategies mutating a valid manifest set (data, YAML text, bytes)

The real engine:
    engine_harness   stand-in images, unique fleet names, poll, a test fleet's containers
    engine_fixtures  the pytest fixtures (docker_client, fleet_name, ...) the suites' conftests import
    fleetkit         manifests on disk, the CLI in process, the Python API, engine look-ups
    remotekit        a private sshd and TLS certificates for remote-engine tests
    reliakit         the deployer in a subprocess (through crash_apply), its call log
    privated         a private dockerd in its own network namespace, for engine-fault tests
    gatewaykit       facts about the real OpenClaw gateway image
    swarmlab         a 3-node Docker Swarm in namespaces (also `python3 -m tests.support.swarmlab up|reap`)
    swarmkit         a swarm fleet's manifests, the CLI in process against the test swarm, cleanup by label

Scripts run as subprocesses by path (they import only deployer):
    crash_apply      the CLI, counting mutating engine calls and SIGKILLing itself after the k-th
    measured_cli     the CLI, writing its peak RSS at exit
"""
