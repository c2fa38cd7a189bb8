"""The single-host Docker backend, split by job:

- client.py    the SDK client for an endpoint (unix, tcp+TLS, ssh) and the one error map
- translate.py BotSpec -> create arguments and inspect -> canonical live spec: every Docker
               encoding (RestartPolicy, NanoCpus, mounts, port bindings, healthcheck) lives here
- markers.py   never-started marker containers: the lock, its heartbeats, the record, history
- engine.py    DockerEngine: the backend contract (deployer.backends.base) over the three above
- traits.py    what this backend changes in place, its aside copies, how secrets reach a bot

Only this package imports the docker SDK, and this file does not (traits are plain data that
the planner reads without loading the SDK).
"""
