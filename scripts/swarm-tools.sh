#!/usr/bin/env bash
# Tools the 3-node swarm test harness (tests/support/swarmlab.py) needs besides dockerd
# (scripts/engine-up.sh installs docker.io): iproute2 (ip netns, veth, bridge), util-linux
# (nsenter, unshare) and a busybox (ping across the lab's bridge). Idempotent; installs only
# what is missing. Checks, without changing anything, that the kernel offers network
# namespaces, veth and bridges, so a machine that cannot run the lab says so here.
set -euo pipefail

log() { printf 'swarm-tools: %s\n' "$*" >&2; }
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
{ command -v nsenter >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1; } || need+=(util-linux)
command -v busybox >/dev/null 2>&1 || [ -x /bin/busybox ] || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    log "apt-get install ${need[*]}"
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
for tool in ip nsenter unshare busybox; do
    command -v "$tool" >/dev/null 2>&1 || { log "ERROR: $tool still missing"; exit 1; }
done
if [ "$(id -u)" -ne 0 ]; then
    log "not root: the swarm tests will fail (they need root for namespaces)"
    exit 0
fi
# A throwaway namespace with a bridge and a veth pair proves the kernel side; it is removed at once.
probe="swarm-tools-probe-$$"
created_dir=0; [ -e /run/netns ] || created_dir=1
cleanup() {
    ip netns del "$probe" 2>/dev/null || true
    if [ "$created_dir" -eq 1 ] && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
        umount /run/netns 2>/dev/null || true; rmdir /run/netns 2>/dev/null || true
    fi
}
trap cleanup EXIT
if ! { ip netns add "$probe" && ip -n "$probe" link add b0 type bridge && \
       ip -n "$probe" link add v0 type veth peer name v1; } 2>/tmp/swarm-tools.err; then
    log "ERROR: this kernel cannot give the swarm lab its network (netns/bridge/veth): $(cat /tmp/swarm-tools.err)"
    exit 1
fi
log "ip, nsenter, unshare, busybox present; netns, bridge and veth work"
