"""The rollout's defaults, each declared once (issue 18): the CLI's options (cli/options), an
apply request (flows/apply.ApplyRequest) and the applier's options (runtime/applier.ApplyOptions)
read them from here, so a caller that leaves one out gets what `deployer apply` does. (Whole
numbers where they are: `--help` shows them as written, "180" and not "180.0".)"""

from __future__ import annotations

PARALLELISM = 4  # bots changed at once; a change holds its slot until ready or failed
# 180 s: wait_ready stops at once when the container exits or turns healthy or unhealthy, so the
# timeout only cuts off one still "starting". A gateway is healthy after 17-22 s at load 3-5 but
# 40-70 s at load 10-20, and the deployer's OpenClaw healthcheck (start period 60 s, then 3 misses
# 10 s apart) lets the engine itself call a dead one unhealthy by about 90-100 s: a shorter wait
# gives up on a gateway that is only slow and undoes its change.
WAIT_TIMEOUT = 180
STOP_TIMEOUT = 10  # seconds a container gets to stop gracefully before it is killed
MAX_FAILURES = 3  # failure budget: once this many changes failed, no new change starts
CANARY = 0  # the first K changes go first; 0: no canary
LOCK_TIMEOUT = 0  # seconds to wait for another run's lock (0: fail at once)
LOCK_TTL = 60  # seconds without a heartbeat after which a lock counts as abandoned
