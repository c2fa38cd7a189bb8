#!/usr/bin/env python3
"""How many actions does a 1,000-bot rollout of a bad change start? (issue 14's figure)

    python3 -m bench.rollout_budget [--bots 1000] [--latency 0.02] [--parallelism 4]

Runs the real Applier (deployer/runtime/applier.py, its scheduling loop and failure budget unchanged)
against the in-memory engine of tests/support/fake_backend.py, not 1,000 real containers (too heavy
for a shared 2-core machine): every engine call sleeps --latency seconds so parallel actions
overlap as on a real engine, and the changed command makes every new container exit at once.
Two shapes: a rollout to existing bots (replace: stop, rename aside, create, start, fail, roll
back, all inside the mutation slot) and a first rollout of new bots (create + start, whose wait
runs outside the slot). Prints, per budget, actions started / failed / not started and wall time.
Asserts nothing.
"""

from __future__ import annotations

import argparse

from bench.timing import timed
from deployer.core.model import CREATE, REPLACE, Action, BotSpec, Plan
from deployer.core.spec import container_spec, spec_hash
from deployer.runtime.applier import Applier, ApplyOptions
from tests.support.fake_backend import FakeBackend

BAD = ("sh", "-c", "exit 3")


def plan_for(engine: FakeBackend, n: int, shape: str) -> Plan:
    actions = []
    for i in range(n):
        good = BotSpec(name=f"bot{i:04d}", image="openclaw:1")
        bad = BotSpec(name=good.name, image=good.image, command=BAD)
        if shape == "replace":
            spec = container_spec(good)
            cid = engine.create(good, fleet="f", spec=spec, spec_hash=spec_hash(spec), secrets_dir=None)
            engine.start(cid)
            actions.append(Action(good.name, REPLACE, container_id=cid, desired=bad))
        else:
            actions.append(Action(good.name, CREATE, desired=bad))
    engine.calls.clear()
    return Plan("f", tuple(actions))


def run(n: int, latency: float, parallelism: int, shape: str, budget: int | None, canary: int = 0) -> str:
    engine = FakeBackend(latency=0.0, bad_commands=frozenset({BAD}))
    plan = plan_for(engine, n, shape)
    engine.latency = latency
    started: list[str] = []
    applier = Applier(engine, "f", ApplyOptions(parallelism=parallelism, settle=0, max_failures=budget, canary=canary),
                      progress=lambda bot, event, message: started.append(bot) if event == "start" else None)
    wall, report = timed(applier.apply, plan)
    label = f"--max-failures {budget}" if budget else "no budget (before issue 14)"
    if canary:
        label += f" --canary {canary}"
    return (f"  {shape:<8} {label:<34} started {len(started):>5}  failed {len(report.failed):>5}  "
            f"rolled back {sum(r.rolled_back for r in report.failed):>5}  not started {len(report.not_started):>5}  "
            f"engine calls {sum(engine.calls.values()):>6}  {wall:6.1f}s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bots", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--parallelism", type=int, default=4)
    args = ap.parse_args()
    print(f"{args.bots} bots, a change whose containers exit at once, --parallelism {args.parallelism}, "
          f"{args.latency * 1000:.0f} ms per engine call (in-memory engine)")
    for shape in ("replace", "create"):
        for budget, canary in ((3, 0), (1, 0), (3, 1), (None, 0)):
            print(run(args.bots, args.latency, args.parallelism, shape, budget, canary), flush=True)


if __name__ == "__main__":
    main()
