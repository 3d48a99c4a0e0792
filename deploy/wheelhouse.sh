#!/usr/bin/env bash
# Download the wheels the serving image needs (the `serve` extra at the exact versions of
# constraints.txt, plus the build backend) on the host, for `docker build` on machines where pip
# cannot reach PyPI from inside the build. Cached under $SENTIMENT_DOCKER_CACHE keyed by the hash
# of pyproject.toml + constraints.txt, then hard-linked into deploy/wheelhouse/ (the build context).
# Usage: deploy/wheelhouse.sh [EXTRAS]   (default: serve; e.g. "serve,load" for the loadtest image)
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/engine.sh

EXTRAS=${1:-serve}
PY=${PYTHON:-.venv/bin/python}
CACHE=${SENTIMENT_DOCKER_CACHE:-/var/cache/sentiment-docker}
BUILD_REQS=("setuptools>=68" "wheel")
KEY=$(cat pyproject.toml constraints.txt <(echo "$EXTRAS ${BUILD_REQS[*]}") | sha256sum | cut -c1-16)
TAG=${EXTRAS//,/-}
DIR="$CACHE/wheelhouse-$TAG-$KEY"
DEST=deploy/wheelhouse

requirements() {  # the extras' requirement names from pyproject.toml, one per line
    "$PY" - "$EXTRAS" <<'PYEOF'
import sys, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
names = {r for e in sys.argv[1].split(",") for r in extras[e]}
print("\n".join(sorted(names)))
PYEOF
}

if [ ! -f "$DIR/.complete" ]; then
    log "pip download the '$EXTRAS' wheels (constraints.txt) into $DIR"
    mkdir -p "$DIR.tmp"
    mapfile -t reqs < <(requirements)
    "$PY" -m pip download --quiet --disable-pip-version-check --no-cache-dir --only-binary=:all: \
        --python-version 3.11 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform linux_x86_64 --implementation cp \
        -c constraints.txt -d "$DIR.tmp" "${reqs[@]}" "${BUILD_REQS[@]}" 2>"$DIR.log" \
        || { grep -v 'is ignored: it is neither' "$DIR.log" | tail -n 20 >&2; exit 1; }
    rm -rf "$DIR" "$DIR.log" && mv "$DIR.tmp" "$DIR" && touch "$DIR/.complete"
    # drop this extras set's older wheelhouses (other pins); other extras sets stay cached
    find "$CACHE" -maxdepth 1 -name "wheelhouse-$TAG-????????????????" ! -name "${DIR##*/}" \
        -exec rm -rf {} +
fi
find "$DEST" -maxdepth 1 -name '*.whl' -delete
cp -l "$DIR"/*.whl "$DEST"/ 2>/dev/null || cp "$DIR"/*.whl "$DEST"/
log "wheelhouse: $(ls "$DEST"/*.whl | wc -l) wheels, $(du -shL "$DEST" | cut -f1)"
