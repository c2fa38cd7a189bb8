#!/usr/bin/env bash
# Quickstart: install deployer, bring up a local Docker engine, build the real OpenClaw gateway
# image offline from npm (cached), write demo secrets with `deployer secret set` (0600 files
# owned by the gateway's uid 1000), then validate, plan, apply and show the demo fleet of real
# gateways. Run it again: the plan shows no changes. `bash scripts/quickstart.sh --down` removes
# the demo fleet (its containers, record and history; its state, configs and secrets stay).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -m pip install -q -e .
bash scripts/engine-up.sh >/dev/null

root=/tmp/deployer-quickstart
if [ "${1:-}" = "--down" ]; then
    # the Fleet with no bots, pruned: the deployer removes the fleet's containers itself
    empty=$(mktemp -d)
    cp demo/fleet.yaml "$empty/"
    deployer apply --prune --allow-empty --yes "$empty"
    rm -rf "$empty"
    # its last-applied record and history entries (never-started marker containers)
    ids=$( (docker ps -aq --filter label=botmaker.record=quickstart; docker ps -aq --filter label=botmaker.history=quickstart) )
    if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
    echo "quickstart: the demo fleet is gone; its state, configs and secrets stay under $root (rm -rf $root to forget them)"
    exit 0
fi
set_secret() {  # bot name: a random demo value, written once, never printed
    if [ ! -s "$root/secrets/$1/$2" ]; then
        head -c 24 /dev/urandom | base64 | tr -d '\n' | deployer secret set "$1" "$2" -f demo/ >/dev/null
    fi
}
set_secret qs-support OPENCLAW_GATEWAY_TOKEN
set_secret qs-support ANTHROPIC_API_KEY
set_secret qs-support TELEGRAM_BOT_TOKEN
set_secret qs-community OPENCLAW_GATEWAY_TOKEN
set_secret qs-community OPENAI_API_KEY
set_secret qs-community TELEGRAM_BOT_TOKEN
set_secret qs-ops OPENROUTER_API_KEY

set -x
deployer validate --secrets demo/
deployer plan demo/
deployer apply --yes demo/
deployer status demo/
set +x

cat <<INFO

The demo gateways (real OpenClaw 2026.9.6, offline: no model or Telegram traffic leaves this host):
  qs-support    http://127.0.0.1:28801/healthz    token: cat $root/secrets/qs-support/OPENCLAW_GATEWAY_TOKEN
  qs-community  http://127.0.0.1:28802/healthz    token: cat $root/secrets/qs-community/OPENCLAW_GATEWAY_TOKEN
  qs-ops        stopped (state: stopped in demo/bots.yaml)
Ask a gateway for its health with its token:
  docker exec botmaker-qs-support node dist/index.js gateway health --token "\$(cat $root/secrets/qs-support/OPENCLAW_GATEWAY_TOKEN)"
The generated configs (file references only, no secret values): $root/config/<bot>/openclaw.json
Remove the demo fleet: bash scripts/quickstart.sh --down
INFO
