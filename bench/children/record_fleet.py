"""`python3 -m bench.children.record_fleet MANIFESTS OUT TEMPLATE ENGINE`: item 7's recorded engine.

Writes to OUT the list response (GET /containers/json) of the fleet in MANIFESTS as if every bot
had its container, stopped, as `deployer apply` would have created it: each row's labels are those
of the create body the docker backend sends (deployer.backends.docker.translate.create_body, which
puts the manifest's labels, ours, the canonical spec and its hash), made from the spec the planner
wants (deployer.plan.planner.desired_spec) and the secrets' fingerprint label the applier adds
(deployer.core.model.fingerprint_label of the fingerprints the secrets checks compute). These are
pure functions: no engine is involved. The other fields of every row come from TEMPLATE (a real
row of the engine); ENGINE holds the engine's answers to `version` and to the image inspect, which
are kept in OUT for the replay engine. Prints the number of rows.

If what is recorded here ever differs from what apply creates, the replayed plan is not a no-op
and bench.run stops item 7 with that plan's output.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from typing import Any

from deployer.backends import open_backend
from deployer.backends.docker.translate import create_body
from deployer.core.model import BotSpec, fingerprint_label
from deployer.core.spec import spec_hash
from deployer.core.vocabulary import LABEL_SECRETS
from deployer.flows.prepare import load_fleet, plan_options
from deployer.plan.planner import PlanOptions, desired_spec
from deployer.secrets.checks import check_fleet_secrets


def created_labels(bot: BotSpec, fleet: str, options: PlanOptions) -> dict[str, str]:
    """The labels of the container `apply` creates for this bot (no revision stamp)."""
    spec = desired_spec(bot, options)
    prints = options.secret_fingerprints.get(bot.name)
    extra = {LABEL_SECRETS: fingerprint_label(prints)} if prints else {}
    body = create_body(bot, fleet=fleet, spec=spec, spec_hash=spec_hash(spec), secrets_dir=options.secrets_dir,
                       extra_labels=extra)
    labels: dict[str, str] = body["Labels"]
    return labels


def record(manifests: str, template: dict[str, Any], image: dict[str, Any]) -> list[dict[str, Any]]:
    fleet, _warnings = load_fleet([manifests])
    options = plan_options(fleet, None, traits=open_backend("docker").traits)  # built, never connected
    secrets = check_fleet_secrets(fleet, options.secrets_dir, image_users={})
    if secrets.errors:
        raise SystemExit(f"the bench fleet's secrets do not check: {[p.format() for p in secrets.problems[:3]]}")
    options = dataclasses.replace(options, secret_fingerprints=secrets.fingerprints)
    rows = []
    for bot in fleet.bots:
        name = bot.container_name
        rows.append(dict(template, Id=hashlib.sha256(name.encode()).hexdigest(), Names=["/" + name], Image=bot.image,
                         ImageID=image["Id"], State="created", Status="Created",
                         Labels=created_labels(bot, fleet.name, options)))
    return rows


def main(manifests: str, out: str, template_file: str, engine_file: str) -> None:
    with open(template_file) as fh:
        template = json.load(fh)
    with open(engine_file) as fh:
        engine = json.load(fh)
    rows = record(manifests, template, engine["image"])
    with open(out, "w") as fh:
        json.dump({"containers": rows, **engine}, fh)
    print(len(rows))


if __name__ == "__main__":
    main(*sys.argv[1:5])
