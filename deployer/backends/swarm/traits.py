"""The swarm backend's traits (plain data: importing this does not load the SDK)."""

from __future__ import annotations

from deployer.core.traits import Traits

# Measured on a 3-node swarm (dockerd 20.10.24, see the backend's README section): a change of
# the task template's memory limit, CPU limit or restart policy starts a new task (the old one is
# shut down); only service-level labels change without one. So no canonical field changes in
# place, and every change is one stop-first service update that swarm rolls back by itself on
# failure: there is no aside copy.
SWARM_TRAITS = Traits(
    in_place_fields=frozenset(),
    aside_mark=None,
    secret_delivery="engine-secrets",
    unit_noun="service",
)
