"""The single-host backend's traits (plain data: importing this does not load the SDK)."""

from __future__ import annotations

from deployer.core.traits import Traits

# `docker update` changes memory, cpus and the restart policy of a live container; everything
# else needs a new container. A replace renames the old container aside (<name>_old_<id>) so a
# failed start can restore it; bot names cannot hold '_', so the mark cannot clash with a bot.
DOCKER_TRAITS = Traits(
    in_place_fields=frozenset({"memory", "cpus", "restart"}),
    aside_mark="_old_",
    secret_delivery="bind-dir",
    unit_noun="container",
)

ASIDE_MARK = DOCKER_TRAITS.aside_mark  # for readers of names on a single host (tests, the bench)
