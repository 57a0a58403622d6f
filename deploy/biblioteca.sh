#!/bin/sh
# Entry point of the biblioteca image: one word picks the process, the rest of
# the arguments go to it unchanged. Settings come only from the environment
# (validated by common/config.ts, exactly as on a developer machine), so this
# script maps names to dist/ entries and nothing else.
#
#   biblioteca ga [serve|migrate|cargar-catalogo <archivo>]
#   biblioteca gc
#   biblioteca actor                  # ACTOR_TIPO=prestamo|devolucion|renovacion
#   biblioteca ps <menu|archivo|test-sistema|carga> …
#   biblioteca status [--ga URL …] [--gc URL]
#   biblioteca panel --gc [host=]URL --ga [host=]URL … [--actor [host=]URL …] [--host A] [--puerto N]
#   biblioteca health [port]          # HEALTHCHECK: GET /health of the process in this container
set -eu
cd /app

# The process's HTTP port is remembered for `health`, so the image's
# HEALTHCHECK works without repeating the port (docker run img ga, gc, actor).
remember_port() { printf '%s\n' "$1" > /tmp/biblioteca-http-port; }

# The process runs under SCHED_BATCH, as npm start runs it (common/scheduling.ts: no
# wake-up preemption between the processes of one host): set on this shell, which the
# process then replaces (exec keeps the policy). PLANIFICADOR=normal keeps SCHED_OTHER;
# without chrt (util-linux), or refused, a warning and the process runs as it is.
run() {
  case "${PLANIFICADOR:-batch}" in
    batch) chrt --batch --pid 0 $$ 2>/dev/null || echo "biblioteca: aviso: no se pudo aplicar SCHED_BATCH (chrt de util-linux ausente o rechazado); el proceso sigue con el planificador actual" >&2 ;;
    normal) ;;
    *) echo "biblioteca: PLANIFICADOR='$PLANIFICADOR' no es válido: use batch o normal" >&2; exit 2 ;;
  esac
  exec "$@"
}

cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
  ga)
    remember_port "${GA_HTTP_PORT:-9570}"
    run node dist/gestor_almacenamiento/main.js "$@" ;;
  gc)
    remember_port "${GC_HTTP_PORT:-9555}"
    run node dist/gestor_carga/main.js "$@" ;;
  actor)
    # 0 (any free port) cannot be health-checked: compose files give each actor a fixed port.
    remember_port "${ACTOR_HTTP_PORT:-0}"
    run node dist/actores/main.js "$@" ;;
  ps)
    run node dist/solicitante/main.js "$@" ;;
  status)
    exec node dist/scripts/launcher/status.js "$@" ;;
  panel)
    # Its port is an argument (--puerto): the compose healthcheck passes it to `health`.
    exec node dist/panel/main.js "$@" ;;
  health)
    port="${1:-$(cat /tmp/biblioteca-http-port 2>/dev/null || echo none)}"
    case "$port" in
      none) exit 0 ;;   # a one-shot command (ps, status): nothing to check
      0) echo "no fixed HTTP port (set ACTOR_HTTP_PORT)" >&2; exit 1 ;;
    esac
    # HTTP_HOST=0.0.0.0 listens everywhere, so ask on loopback; a specific address is asked directly.
    host="${HTTP_HOST:-0.0.0.0}"
    [ "$host" = 0.0.0.0 ] && host=127.0.0.1
    # bash's /dev/tcp, not node: starting node costs ~250 ms of CPU, and Docker runs
    # this every few seconds in every container (a third of a 2-core host for pc1-3 on one).
    exec bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf "GET /health HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3
      read -r -t 2.5 _ code _ <&3 || { echo "no answer from http://$1:$2/health" >&2; exit 1; }
      [ "$code" = 200 ] || { echo "http://$1:$2/health answered $code" >&2; exit 1; }
    ' health "$host" "$port" ;;
  help|-h|--help)
    # The header comment (line 2 up to the first code line), without its '# '.
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p;}' "$0" ;;
  *)
    echo "biblioteca: unknown command '$cmd' (ga, gc, actor, ps, status, panel, health, help)" >&2
    exit 2 ;;
esac
