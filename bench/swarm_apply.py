"""Figures for the swarm backend (issue 12): apply -> converged for N bots on the 3-node test swarm,
the mutating calls of a no-op apply, and one env change rolled out to every bot.

    python3 -m bench.swarm_apply 1 30         # from the repo root, as root; starts and stops its own SwarmLab

Each apply is `python -m deployer apply --yes` in a subprocess (what a CI job runs), timed from
start to exit: apply returns once every service's task of the new spec runs and stayed up for
the settle time, i.e. converged. The machine is shared: read the figures as ratios, not limits.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

from bench.timing import CommandFailed, run_timed
from tests.support.swarmkit import SwarmFleet, remove_fleet
from tests.support.swarmlab import SwarmLab


def timed_apply(fleet: SwarmFleet, env: dict[str, str], *extra: str) -> tuple[float, str]:
    """Seconds and output of one `deployer apply --yes` (converged when it returns)."""
    try:
        took, res = run_timed([sys.executable, "-m", "deployer", "apply", "--yes", "--parallelism", "8", *extra,
                               fleet.path], env=env, timeout=None, what="apply")
    except CommandFailed as exc:
        raise SystemExit(str(exc)) from None
    return took, res.stdout


def noop_mutations(fleet: SwarmFleet) -> int:
    from deployer.backends import open_backend
    from deployer.backends.endpoint import resolve
    from deployer.flows.prepare import load_fleet, plan_options, prepare
    from deployer.runtime.applier import Applier, ApplyOptions

    loaded, _ = load_fleet([fleet.path])
    engine = open_backend("swarm", endpoint=resolve({"DOCKER_HOST": fleet.docker_host}))
    prepared = prepare(loaded, plan_options(loaded, None, traits=engine.traits), engine, preflight=False)
    Applier(engine, loaded.name, ApplyOptions(plan_options=prepared.options)).apply(prepared.plan)
    return engine.mutating_calls


def main(sizes: list[int]) -> None:
    monitor = os.environ.get("DEPLOYER_SWARM_UPDATE_MONITOR", "5")
    with SwarmLab() as lab:
        print(f"swarm up in {lab.timings['start']:.1f}s; update monitor {monitor}s; settle 1s; parallelism 8")
        env = {**os.environ, "DOCKER_HOST": lab.manager.docker_host, "DEPLOYER_SWARM_UPDATE_MONITOR": monitor}
        client = lab.manager.client()
        for n in sizes:
            fleet = SwarmFleet(Path(tempfile.mkdtemp()), "bench" + uuid.uuid4().hex[:5], lab.manager.docker_host)
            try:
                bots = {f"b{i:03d}": {"placement": {"constraints": ["node.role==worker"]}, "env": {"MODE": "one"}}
                        for i in range(n)}
                fleet.write(bots)
                created, _ = timed_apply(fleet, env)
                noop, out = timed_apply(fleet, env)
                assert "No changes" in out, out
                mutations = noop_mutations(fleet)
                fleet.write({k: {**v, "env": {"MODE": "two"}} for k, v in bots.items()})
                updated, _ = timed_apply(fleet, env)
                print(f"{n:4d} bots: create -> converged {created:6.1f}s | no-op apply {noop:5.1f}s, "
                      f"{mutations} mutating calls | env change (one stop-first update each) -> converged {updated:6.1f}s")
            finally:
                remove_fleet(client, fleet.name)
        client.close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python3 -m bench.swarm_apply", description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1, 30], metavar="N",
                        help="fleet sizes to measure, one after the other (default: 1 30)")
    main(parser.parse_args().sizes)
