"""The Docker Swarm backend: each bot is one replicated service with one replica (0 when the bot
is stopped), split by job as the single-host backend is:

- translate.py BotSpec -> ServiceSpec, and service + tasks -> UnitStatus / canonical live spec
               (pure functions of plain data, unit-tested on recorded `docker service inspect`)
- markers.py   Docker configs as markers (lock, heartbeats, record, history): their names are
               unique cluster-wide, so a create is atomic; created times and "now" are the
               manager's clock
- secrets.py   versioned Docker secrets, one per declared secret file and content
- engine.py    SwarmEngine: the backend contract (deployer.backends.base) plus InEngineReplace
- traits.py    SWARM_TRAITS (plain data: importing it does not load the SDK)
"""
