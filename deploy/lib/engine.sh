# shellcheck shell=bash
# Docker engine helpers for deploy/*.sh: install the tools with apt if missing, start a dockerd
# without bridge/NAT (host networking only) if no engine answers, and stop only what we started.

ENGINE_PIDFILE=""
ENGINE_STARTED=0

log() { printf '%s [container-test] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        log "must run as root (apt, dockerd, debootstrap); try: sudo make container-test"
        exit 2
    fi
}

# ensure_packages: apt-get install docker.io docker-compose debootstrap when a tool is missing.
ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 \
        || missing+=(docker-compose)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return 0
    need_root
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update -qq && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
}

# compose_cmd: prints the compose command to use (v2 plugin if present, else v1.29).
compose_cmd() {
    if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo "docker-compose"; fi
}

# start_engine: reuse a running engine, else start dockerd --bridge=none --iptables=false.
start_engine() {
    if docker info >/dev/null 2>&1; then
        log "using the running Docker engine"
        return 0
    fi
    need_root
    local logfile=${ENGINE_LOG:-/var/log/sentiment-dockerd.log}
    ENGINE_PIDFILE=/var/run/sentiment-dockerd.pid
    log "starting dockerd --bridge=none --iptables=false (log: $logfile)"
    dockerd --bridge=none --iptables=false --ip6tables=false --pidfile "$ENGINE_PIDFILE" \
        >"$logfile" 2>&1 &
    ENGINE_STARTED=1
    local i
    for i in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "dockerd did not come up in 30 s; last log lines:"; tail -n 20 "$logfile" >&2
    return 1
}

# stop_engine: stop the dockerd we started (by its pid), wait for it to exit.
stop_engine() {
    [ "$ENGINE_STARTED" = 1 ] || return 0
    local pid
    pid=$(cat "$ENGINE_PIDFILE" 2>/dev/null || true)
    [ -n "$pid" ] || return 0
    log "stopping the dockerd we started (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || { ENGINE_STARTED=0; return 0; }
        sleep 0.5
    done
    log "dockerd pid $pid still running after 30 s"
    return 1
}
