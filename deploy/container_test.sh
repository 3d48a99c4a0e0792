#!/usr/bin/env bash
# `make container-test`: build the serving image and test it end to end with docker compose.
#
# 1. apt-get install docker.io docker-compose debootstrap if missing; start
#    `dockerd --bridge=none --iptables=false` if no engine answers (stopped again at the end);
# 2. base image: $BASE_IMAGE if set, else a local Debian bookworm + Python 3.11 image built with
#    debootstrap (cached in $SENTIMENT_DOCKER_CACHE, default /var/cache/sentiment-docker);
# 3. wheelhouse: the `serve` wheels downloaded on the host (pip in `docker build` cannot reach
#    PyPI here), built with `docker build --network none` so the image provably needs no network;
# 4. deploy/e2e.py: compose up, healthy, predictions == host runtime, score profile, non-root +
#    read-only root, SIGTERM with requests in flight, compose down, nothing left running.
# Env: MEASURE=SECONDS also runs deploy/measure.py (requests/s, container vs host); KEEP_ENGINE=1 leaves a dockerd
# we started running; SENTIMENT_TEST_PORT picks the port (default: a free one).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/engine.sh

PY=${PY:-.venv/bin/python}
IMAGE=${SENTIMENT_TEST_IMAGE:-sentiment:container-test}
PROJECT=sentiment-ct-$$
T_START=$(date +%s.%N)
TIMES=()

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

phase() {  # phase NAME CMD...: run CMD, record its wall time
    local name=$1 t0 t1
    shift
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    TIMES+=("$name=$(elapsed "$t0" "$t1")s")
}

cleanup() {
    local rc=$?
    if [ -n "${WHEEL_PID:-}" ] && kill -0 "$WHEEL_PID" 2>/dev/null; then
        pkill -P "$WHEEL_PID" 2>/dev/null || true
        kill "$WHEEL_PID" 2>/dev/null || true
    fi
    if docker info >/dev/null 2>&1; then
        local left
        left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" || true)
        [ -z "$left" ] || { log "removing leftover containers $left"; docker rm -f $left >/dev/null; }
    fi
    [ "${KEEP_ENGINE:-0}" = 1 ] || stop_engine || rc=1
    log "phases: ${TIMES[*]} total=$(elapsed "$T_START" "$(date +%s.%N)")s"
    [ $rc = 0 ] && log "PASSED" || log "FAILED (exit $rc)"
    exit $rc
}
trap cleanup EXIT

build_image() {
    log "docker build $IMAGE (BASE_IMAGE=$BASE, wheels only, no network)"
    docker build --quiet --network none --build-arg BASE_IMAGE="$BASE" --build-arg WHEELS_ONLY=1 \
        -t "$IMAGE" . >/dev/null
}

check_compose_file() {  # the file parses in every compose available here
    local c
    COMPOSE=$(compose_cmd)
    for c in "docker-compose" "docker compose"; do
        $c version >/dev/null 2>&1 || continue
        SENTIMENT_ENV_FILE=deploy/sentiment.env.example $c -f docker-compose.yml \
            --profile score --profile loadtest config -q
        log "compose file valid for: $($c version --short 2>/dev/null || $c version | head -n1)"
    done
}

phase install ensure_packages
phase engine start_engine
# The wheelhouse download runs while the base image is built (both mostly wait on the network).
WHEEL_LOG=$(mktemp)
deploy/wheelhouse.sh serve >"$WHEEL_LOG" 2>&1 &
WHEEL_PID=$!
if [ -z "${BASE_IMAGE:-}" ]; then
    phase base_image deploy/build_base.sh >/dev/null
    BASE=local/sentiment-python:3.11-bookworm
else
    BASE=$BASE_IMAGE
fi
wait_wheelhouse() {
    local rc=0
    wait "$WHEEL_PID" || rc=$?
    cat "$WHEEL_LOG" >&2
    rm -f "$WHEEL_LOG"
    return $rc
}
phase wheelhouse_wait wait_wheelhouse
phase build build_image
check_compose_file
PORT=${SENTIMENT_TEST_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
log "image $IMAGE: $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'); e2e on 127.0.0.1:$PORT with $COMPOSE"
phase e2e "$PY" deploy/e2e.py --image "$IMAGE" --compose "$COMPOSE" --project "$PROJECT" \
    --port "$PORT"
if [ "${MEASURE:-0}" != 0 ]; then
    HOST_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    phase measure "$PY" deploy/measure.py --image "$IMAGE" --compose "$COMPOSE" \
        --project "$PROJECT" --port "$PORT" --host-port "$HOST_PORT" --seconds "$MEASURE"
fi
