#!/usr/bin/env bash
# Tools the remote-engine tests (tests/engine/test_remote_*.py) need: Debian's openssh-server
# (sshd, run by the tests as their own child on 127.0.0.1 with their own config; the package's
# service is never started or configured), the ssh client, and openssl. Idempotent.
set -euo pipefail

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ "${#need[@]}" -eq 0 ]; then
    echo "remote-tools: sshd, ssh and openssl present" >&2
    exit 0
fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "remote-tools: apt-get install ${need[*]}" >&2
as_root apt-get update -q >/dev/null
# RUNLEVEL=1 + policy-rc.d (where present) keep the package from starting a system sshd
as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
[ -x /usr/sbin/sshd ] || { echo "remote-tools: sshd still missing" >&2; exit 1; }
