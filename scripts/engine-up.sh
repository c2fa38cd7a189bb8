#!/usr/bin/env bash
# Bring up a local Docker engine and the offline stand-in bot images used by
# the real-engine tests (tests/engine). Idempotent: safe to run repeatedly.
#
#   bash scripts/engine-up.sh
#
# What it does:
#   1. If `docker info` fails: installs docker.io (+ busybox-static) from
#      Debian when dockerd is missing, then starts dockerd in the background
#      (setsid + nohup, log in $DOCKERD_LOG) and waits up to 60 s for it.
#   2. Builds deployer-test/openclaw:1 and deployer-test/openclaw:2 from a
#      busybox rootfs with `docker import` (no registry needed), unless they
#      already exist and were built by this very recipe. FORCE_REBUILD=1
#      rebuilds them unconditionally.
#   3. Builds the real OpenClaw gateway image deployer/openclaw:<version> with
#      scripts/openclaw-image.sh (npm registry needed the first time; cached by
#      recipe afterwards, about a minute and 720 MB the first time).
#
# Environment knobs:
#   FORCE_REBUILD=1        rebuild the stand-in images (and the real image)
#   SKIP_OPENCLAW_IMAGE=1  only the stand-in images, not the real gateway image
#   DOCKERD_LOG=path       dockerd log file (default /tmp/deployer-dockerd.log)
#   DOCKERD_ARGS="..."     extra arguments for dockerd
#   ENGINE_WAIT_SECS=60    how long to wait for the engine to answer
set -euo pipefail

DOCKERD_LOG="${DOCKERD_LOG:-/tmp/deployer-dockerd.log}"
DOCKERD_PIDFILE_OURS="/tmp/deployer-dockerd.pid"
ENGINE_WAIT_SECS="${ENGINE_WAIT_SECS:-60}"
IMAGE_REPO="deployer-test/openclaw"
BOT_PORT=18789

log() { printf 'engine-up: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

engine_ok() { docker info >/dev/null 2>&1; }

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -q >/dev/null
        apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

ensure_packages() {
    local pkgs=()
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        pkgs+=(docker.io)
    fi
    if [ ! -x /bin/busybox ]; then
        pkgs+=(busybox-static)
    fi
    if [ "${#pkgs[@]}" -gt 0 ]; then
        # The images are built from the host's static busybox, so a machine
        # that needs docker.io gets busybox-static along with it.
        if [[ " ${pkgs[*]} " != *" busybox-static "* ]]; then
            pkgs+=(busybox-static)
        fi
        apt_install "${pkgs[@]}"
    fi
    command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"
    command -v docker >/dev/null 2>&1 || die "docker CLI still missing after installing docker.io"
    [ -x /bin/busybox ] || die "/bin/busybox still missing after installing busybox-static"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Prints the pid of a dockerd that is already running (per its pid file), if any.
running_dockerd_pid() {
    local pid=""
    if [ -s /var/run/docker.pid ]; then
        pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
        if pid_alive "$pid" && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
            echo "$pid"
            return 0
        fi
    fi
    return 1
}

wait_for_engine() {
    # $1: pid of the dockerd we are waiting for (may be empty)
    local pid="${1:-}" deadline=$((SECONDS + ENGINE_WAIT_SECS))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if engine_ok; then return 0; fi
        if [ -n "$pid" ] && ! pid_alive "$pid"; then
            return 2   # dockerd died
        fi
        sleep 0.5
    done
    engine_ok
}

start_dockerd() {
    # $@: extra dockerd args
    log "starting dockerd $* (log: $DOCKERD_LOG)"
    : >>"$DOCKERD_LOG"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    # setsid: own session, so it survives this script, its shell and pytest.
    # (Not via a shell function: `func &` would fork a subshell and $! would
    # be that subshell rather than dockerd. setsid/nohup exec in place.)
    # shellcheck disable=SC2086
    "${sudo[@]}" setsid nohup dockerd ${DOCKERD_ARGS:-} "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    local pid=$! rc=0
    disown "$pid" 2>/dev/null || true
    wait_for_engine "$pid" || rc=$?
    # dockerd's own pid file is authoritative (under sudo, $! is sudo's pid).
    if [ -s /var/run/docker.pid ]; then pid="$(cat /var/run/docker.pid)"; fi
    echo "$pid" >"$DOCKERD_PIDFILE_OURS"
    return "$rc"
}

ensure_engine() {
    if engine_ok; then
        log "docker engine already reachable"
        return 0
    fi
    ensure_packages
    # Installing the package may have started the service (where policy-rc.d
    # allows it); a dockerd may also be just starting up.
    local pid
    if pid="$(running_dockerd_pid)"; then
        log "dockerd (pid $pid) is running but not answering yet; waiting"
        if wait_for_engine "$pid"; then return 0; fi
        die "dockerd pid $pid did not answer within ${ENGINE_WAIT_SECS}s (not ours, not killing it)"
    fi
    if engine_ok; then return 0; fi
    # Stale pid file from a daemon that was killed: dockerd refuses to start.
    if [ -e /var/run/docker.pid ]; then
        log "removing stale /var/run/docker.pid"
        as_root rm -f /var/run/docker.pid
    fi
    local rc=0
    start_dockerd || rc=$?
    if [ "$rc" -eq 0 ]; then
        log "docker engine is up (dockerd pid $(cat "$DOCKERD_PIDFILE_OURS"))"
        return 0
    fi
    if [ "$rc" -eq 2 ]; then
        # dockerd exited at once. The usual culprit in nested/sandboxed
        # environments is the overlay2 storage driver; retry once with vfs.
        log "dockerd exited during start-up; last log lines:"
        tail -n 15 "$DOCKERD_LOG" >&2 || true
        as_root rm -f /var/run/docker.pid
        log "retrying with --storage-driver=vfs"
        rc=0
        start_dockerd --storage-driver=vfs || rc=$?
        if [ "$rc" -eq 0 ]; then
            log "docker engine is up (vfs storage driver)"
            return 0
        fi
    fi
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "docker engine did not come up within ${ENGINE_WAIT_SECS}s (see $DOCKERD_LOG)"
}

# ---------------------------------------------------------------------------
# Stand-in images
# ---------------------------------------------------------------------------

# Anything that changes the image content must change this hash, so that a
# stale image built by an older recipe is rebuilt automatically.
recipe_hash() {
    sha256sum "${BASH_SOURCE[0]}" | cut -c1-16
}

image_label() {
    # $1 image, $2 label key
    docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

write_rootfs() {
    # $1 rootfs dir, $2 version string
    local root="$1" version="$2"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,tmp,root,home/node,www,run,var/tmp,dev,proc,sys}
    cp /bin/busybox "$root/bin/busybox"
    chmod 0755 "$root/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] && continue
        [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
    done
    # Make sure the applets the harness relies on are there.
    for applet in sh sleep httpd wget cat echo ls test id env kill true false; do
        [ -e "$root/bin/$applet" ] || die "busybox lacks applet '$applet'"
    done

    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOF
    chmod 0644 "$root/etc/passwd" "$root/etc/group"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    chmod 0700 "$root/root"
    chown 1000:1000 "$root/home/node"
    chmod 0755 "$root/home/node"

    printf 'ok\n' >"$root/www/healthz"
    printf 'ok\n' >"$root/www/readyz"
    chmod 0755 "$root/www"
    chmod 0644 "$root/www/healthz" "$root/www/readyz"

    printf '%s\n' "$version" >"$root/VERSION"
    chmod 0644 "$root/VERSION"

    cat >"$root/usr/local/bin/bot-entrypoint" <<EOF
#!/bin/sh
# Stand-in for the OpenClaw bot: refuses to start when a mounted secret is
# unreadable (exit 3), otherwise serves /www on :${BOT_PORT}
# (GET /healthz and /readyz answer "ok").
if [ -d /run/secrets ]; then
    if [ ! -r /run/secrets ] || [ ! -x /run/secrets ]; then
        echo "cannot read secret /run/secrets (directory not accessible)" >&2
        exit 3
    fi
    for f in /run/secrets/* /run/secrets/.[!.]*; do
        # unmatched globs stay literal; skip them
        [ -e "\$f" ] || [ -L "\$f" ] || continue
        if [ ! -r "\$f" ]; then
            echo "cannot read secret \${f#/run/secrets/}" >&2
            exit 3
        fi
    done
fi
echo "stand-in bot \$(cat /VERSION) listening on :${BOT_PORT} as uid \$(id -u)" >&2
# httpd as PID 1 would ignore SIGTERM (no default action for PID 1), making
# every 'docker stop' wait for the kill timeout; forward TERM/INT instead.
httpd -f -p ${BOT_PORT} -h /www &
child=\$!
trap 'kill -TERM "\$child" 2>/dev/null; wait "\$child" 2>/dev/null; exit 0' TERM INT
wait "\$child"
EOF
    chmod 0755 "$root/usr/local/bin/bot-entrypoint"
}

build_image() {
    # $1 tag, $2 version string
    local tag="$1" version="$2" work
    work="$(mktemp -d /tmp/deployer-rootfs.XXXXXX)"
    write_rootfs "$work/rootfs" "$version"
    log "importing $tag"
    tar --numeric-owner -C "$work/rootfs" -c . | docker import \
        --change "USER 1000" \
        --change "WORKDIR /home/node" \
        --change "EXPOSE ${BOT_PORT}" \
        --change "ENV PATH=/bin:/usr/bin:/usr/local/bin" \
        --change "ENV HOME=/home/node" \
        --change "LABEL deployer-test.recipe=$(recipe_hash) deployer-test.version=${version}" \
        --change 'CMD ["/usr/local/bin/bot-entrypoint"]' \
        --message "deployer stand-in bot v${version}" \
        - "$tag" >/dev/null
    rm -rf "$work"
}

ensure_image() {
    # $1 tag, $2 version string
    local tag="$1" version="$2" want have old_id
    want="$(recipe_hash)"
    old_id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
    if [ "${FORCE_REBUILD:-0}" != "1" ] && docker image inspect "$tag" >/dev/null 2>&1; then
        have="$(image_label "$tag" deployer-test.recipe)"
        if [ "$have" = "$want" ]; then
            log "$tag present (recipe $have)"
            return 0
        fi
        log "$tag built by another recipe (${have:-none}); rebuilding"
    fi
    build_image "$tag" "$version"
    # Drop the superseded image unless something (a container) still uses it.
    if [ -n "$old_id" ]; then docker rmi "$old_id" >/dev/null 2>&1 || true; fi
}

main() {
    command -v docker >/dev/null 2>&1 || ensure_packages
    ensure_engine
    [ -x /bin/busybox ] || ensure_packages
    ensure_image "${IMAGE_REPO}:1" 1
    ensure_image "${IMAGE_REPO}:2" 2
    local id1 id2
    id1="$(docker image inspect --format '{{.Id}}' "${IMAGE_REPO}:1")"
    id2="$(docker image inspect --format '{{.Id}}' "${IMAGE_REPO}:2")"
    [ "$id1" != "$id2" ] || die "${IMAGE_REPO}:1 and :2 have the same image ID"
    echo "${IMAGE_REPO}:1 ${id1}"
    echo "${IMAGE_REPO}:2 ${id2}"
    if [ "${SKIP_OPENCLAW_IMAGE:-0}" = "1" ]; then
        log "SKIP_OPENCLAW_IMAGE=1: not building the real OpenClaw image"
    else
        bash "$(dirname "${BASH_SOURCE[0]}")/openclaw-image.sh"
    fi
}

main "$@"
