#!/usr/bin/env bash
# Build a local Debian bookworm + Python 3.11 base image with debootstrap, for machines that
# cannot pull python:3.11-slim from Docker Hub. The root filesystem tarball is cached under
# $SENTIMENT_DOCKER_CACHE (default /var/cache/sentiment-docker), so later runs only re-import it.
# Usage: deploy/build_base.sh [IMAGE_TAG]   (prints the tag on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/engine.sh

TAG=${1:-local/sentiment-python:3.11-bookworm}
CACHE=${SENTIMENT_DOCKER_CACHE:-/var/cache/sentiment-docker}
RECIPE=v1  # bump when the package list below changes
TARBALL="$CACHE/base-bookworm-py311-$RECIPE.tar"
PACKAGES=python3,python3-venv,ca-certificates

mirror() {  # first Debian mirror configured on this host, else deb.debian.org
    local m
    m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1)
    [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)
    echo "${m:-http://deb.debian.org/debian}"
}

build_rootfs() {
    need_root
    local root
    root=$(mktemp -d /var/tmp/sentiment-rootfs.XXXXXX)
    log "debootstrap --variant=minbase bookworm from $(mirror) (+ $PACKAGES)"
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$(mirror)" >"$root.log" 2>&1 \
        || { tail -n 30 "$root.log" >&2; rm -rf "$root" "$root.log"; return 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/locale/*
    mkdir -p "$CACHE"
    tar -C "$root" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$root" "$root.log"
}

if docker image inspect "$TAG" >/dev/null 2>&1; then
    log "base image $TAG already present"
else
    [ -f "$TARBALL" ] || build_rootfs
    log "importing $TARBALL as $TAG"
    docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$TARBALL" "$TAG" >/dev/null
fi
echo "$TAG"
