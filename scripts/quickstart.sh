#!/usr/bin/env bash
# Quickstart: install deployer, bring up a local Docker engine with the offline stand-in bot
# image, write demo secrets (0700 dirs, 0600 files owned by uid 1000, as OpenClaw needs), then
# validate, plan, apply and show the demo fleet. Run it again: the plan shows no changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -m pip install -q -e .
bash scripts/engine-up.sh >/dev/null

secrets=/tmp/deployer-quickstart/secrets
export DEPLOYER_SECRETS_DIR=$secrets
install -d -m 700 "$secrets"
write_secret() {  # bot name: a random demo value, written once, never printed
    local dir="$secrets/$1"
    install -d -m 700 -o 1000 -g 1000 "$dir"
    if [ ! -s "$dir/$2" ]; then
        (umask 077; head -c 18 /dev/urandom | base64 > "$dir/$2")
        chown 1000:1000 "$dir/$2"
    fi
}
write_secret qs-support ANTHROPIC_API_KEY
write_secret qs-support TELEGRAM_BOT_TOKEN
write_secret qs-community OPENAI_API_KEY
write_secret qs-community DISCORD_BOT_TOKEN
write_secret qs-ops OPENROUTER_API_KEY
write_secret qs-ops SLACK_BOT_TOKEN
write_secret qs-ops SLACK_APP_TOKEN

set -x
deployer validate --secrets demo/
deployer plan demo/
deployer apply --yes demo/
deployer status demo/
