"""A bot's secret files as versioned Docker secrets.

Docker secrets are immutable: each declared file becomes one secret per content, named
botmaker-<fleet>-<bot>-<NAME>-<short keyed fingerprint> (the fleet's HMAC, deployer/secrets/checks.py;
never a plain hash of the value) and labelled with the fleet, the bot, the file name and the
fingerprint. A rotation creates the new version and the service swaps it in with one update.
A version is removed only when neither the Spec nor the PreviousSpec of any service references
it: a rollback (swarm's own, or `service update --rollback`) must still find its secret.

The value is read from the runner's secrets directory (<secretsDir>/<bot>/<NAME>, checked by
deployer.secrets before any change) and sent only in the secret's create call.
"""

from __future__ import annotations

import base64
import functools
import os
import stat
from collections.abc import Callable
from typing import Any

import docker

from deployer.backends.docker.client import raw
from deployer.backends.swarm import translate
from deployer.core.model import BotSpec, parse_fingerprint_label
from deployer.core.vocabulary import (
    LABEL_BOT,
    LABEL_FLEET,
    LABEL_MANAGED,
    LABEL_SECRET_NAME,
    LABEL_SECRET_PRINT,
    LABEL_SECRETS,
    MAX_SECRET_BYTES,
)
from deployer.errors import EngineError, NameTaken


class SwarmSecrets:
    """The secret half of SwarmEngine (mixed in: it shares the client and the call count)."""

    api: docker.APIClient
    _call: Callable[[str, str, Callable[[], Any]], Any]

    def secret_refs(self, bot: BotSpec, *, fleet: str, secrets_dir: str | None, extra_labels: dict[str, str] | None,
                    uid: int) -> list[translate.SecretRef]:
        """The Docker secrets of the bot's declared files at their current content, created
        where missing. The fingerprints are the ones the plan was made with (the unit's label)."""
        if not bot.secrets:
            return []
        prints = parse_fingerprint_label((extra_labels or {}).get(LABEL_SECRETS)) or {}
        missing = [n for n in bot.secrets if n not in prints]
        if missing or not secrets_dir:
            raise EngineError(f"bot {bot.name}: no keyed fingerprint for secret {', '.join(missing) or '?'} "
                              "(the secrets check did not pass); nothing was changed")
        existing = {(s["Spec"]["Labels"].get(LABEL_SECRET_NAME), s["Spec"]["Name"]): s["ID"]
                    for s in self.bot_secrets(fleet, bot.name)}
        refs = []
        for name in sorted(bot.secrets):
            object_name = translate.secret_object_name(fleet, bot.name, name, prints[name])
            secret_id = existing.get((name, object_name))
            if secret_id is None:
                secret_id = self._create_secret(bot, fleet, name, object_name, prints[name], secrets_dir)
            refs.append(translate.SecretRef(secret_id, object_name, name, uid, uid))
        return refs

    def bot_secrets(self, fleet: str, bot: str | None = None) -> list[dict[str, Any]]:
        labels = [f"{LABEL_MANAGED}=true", f"{LABEL_FLEET}={fleet}"] + ([f"{LABEL_BOT}={bot}"] if bot else [])
        return list(self._call("list", "list secrets", lambda: self.api.secrets(filters={"label": labels})) or [])

    def _create_secret(self, bot: BotSpec, fleet: str, name: str, object_name: str, fingerprint: str,
                       secrets_dir: str) -> str:
        data = _read_secret(os.path.join(secrets_dir, bot.name, name), bot.name, name)
        body = {"Name": object_name, "Data": base64.b64encode(data).decode(), "Labels": {
            LABEL_MANAGED: "true", LABEL_FLEET: fleet, LABEL_BOT: bot.name,
            LABEL_SECRET_NAME: name, LABEL_SECRET_PRINT: fingerprint[:translate.SHORT_PRINT]}}
        try:
            res = self._call("secret_create", f"create secret {object_name}",
                             lambda: raw(self.api, "POST", "/secrets/create", json=body))
        except NameTaken:  # a concurrent run made the same version: same name, same content
            for s in self.bot_secrets(fleet, bot.name):
                if s["Spec"]["Name"] == object_name:
                    return str(s["ID"])
            raise
        return str(res.json()["ID"])

    def collect_secrets(self, fleet: str, bot: str | None = None) -> list[str]:
        """Remove this fleet's (or bot's) secret versions that no service's Spec or PreviousSpec
        references; returns the names removed. Other fleets' secrets are never looked at."""
        ours = self.bot_secrets(fleet, bot)
        if not ours:
            return []
        services = self._call("list", "list services", lambda: self.api.services()) or []
        used: set[str] = set()
        for svc in services:
            used |= translate.secret_refs_of(svc.get("Spec") or {}) | translate.secret_refs_of(svc.get("PreviousSpec") or {})
        removed = []
        for s in ours:
            if s["ID"] in used:
                continue
            try:
                secret_id = str(s["ID"])
                self._call("secret_remove", f"remove secret {s['Spec']['Name']}",
                           functools.partial(self.api.remove_secret, secret_id))
                removed.append(s["Spec"]["Name"])
            except EngineError:
                pass  # in use again (a concurrent update) or gone: the next collection decides
        return removed


def _read_secret(path: str, bot: str, name: str) -> bytes:
    """The file's bytes (no symlink followed: the checks refused those already)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise EngineError(f"bot {bot}: secret {name}: {path} is not a regular file")
            data = os.read(fd, MAX_SECRET_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise EngineError(f"bot {bot}: secret {name}: cannot read {path} ({exc.strerror})") from None
    if not data:
        raise EngineError(f"bot {bot}: secret {name}: {path} is empty (a Docker secret needs at least one byte)")
    return data
