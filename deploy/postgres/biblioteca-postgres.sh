#!/usr/bin/env bash
# Entry point of the PostgreSQL containers of the pair (pc1-postgres, pc2-postgres),
# mounted read-only at /biblioteca. It needs only the PostgreSQL binaries (initdb,
# pg_ctl, postgres, psql, pg_basebackup, pg_rewind, pg_isready), gosu and its
# environment: it runs on the official postgres:18 image and on any image with
# that layout, and depends on none of the official image's scripts.
#
#   biblioteca-postgres.sh serve  --name pc1 --initial primary -- [postgres args…]
#   biblioteca-postgres.sh serve  --name pc2 --initial standby -- [postgres args…]
#   biblioteca-postgres.sh rejoin --name pc1 --listen <this host's address> [--reclone]
#
# The one rule it enforces: this script never makes a node read-write by itself.
#   * empty volume, --initial primary: initdb + replication role only when the peer
#     does not answer (a first deployment: the peer waits to clone us). A peer that
#     answers holds the data: a primary is cloned, as for a standby; a standby (this
#     node lost its volume before any failover) is waited for until the GA pair
#     promotes it, then cloned. Never a new, empty primary beside the data;
#   * empty volume, --initial standby: clone the peer with pg_basebackup, start as standby;
#   * existing standby (standby.signal): start as a standby of the peer; if the peer
#     is a primary that gave up this node's slot (it stayed away past
#     max_slot_wal_keep_size: the WAL it needs is gone), clone the peer again first;
#   * existing former primary: start as primary ONLY if the peer answers and stays a
#     standby for --peer-settle-s (a GA pair taking over promotes the peer within a
#     second or two of losing this node: starting as primary meanwhile would make two
#     primaries). If the peer is, or becomes, a primary (a failover happened while we were away),
#     rejoin it by itself: pg_rewind from the peer (a no-op when this node's WAL
#     is a prefix of the new timeline), else a fresh clone, then start as its
#     standby. If the peer does not answer within --peer-wait-s, start as a
#     STANDBY (read-only): promotions are the GA pair's job, which checks
#     timelines first (gestor_almacenamiento/role/takeover.ts). A former primary
#     restarted plainly would come up read-write on its old timeline: split brain.
#     A peer that is a standby on a NEWER timeline than ours (it was promoted, then
#     restarted while this node was away) holds history we lack: never start as
#     primary beside it; wait until the GA pair promotes it, then rejoin it.
#     A peer PRIMARY on a timeline NOT newer than ours (this node was promoted
#     beside it: two primaries) holds less than we do: never rewind onto it, never
#     start beside it; wait, saying how to end it (stop that node).
# Nothing a former primary alone committed is thrown away unseen: before pg_rewind
# or a clone discards its divergent WAL, the transactions committed after the
# divergence point are counted (pg_waldump) and, if there are any, the whole data
# directory is copied to $KEPT-<UTC time> (every copy is kept: delete them by hand once
# read) and the log says so.
# Interrupted work is redone, never trusted: an initdb, a clone or a rewind cut short
# (docker stop, a crash) leaves a marker file, and the next start starts it over.
# `rejoin` does the same repair by hand, with the server stopped. See docs/deploy.md.
#
# Settings: PGDATA, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_INITDB_ARGS
# (the postgres image's names), POSTGRES_REPLICATION_PASSWORD (the replication role's
# own password: required, and not the superuser's), PGPORT (this node's port), PG_PEER_HOST / PG_PEER_PORT
# (the other node: the same variables the GA reads), BIBLIOTECA_AUTO_REJOIN (1:
# a former primary rejoins the new one by itself; 0: it stays read-only until
# `rejoin`). Server settings: replication.conf next to this file.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPL_USER=replicador
# Outside PGDATA (initdb and pg_basebackup want an empty directory), on the volume.
PASSFILE=/var/lib/postgresql/.pgpass
CLONE_MARK=/var/lib/postgresql/.clone-incomplete
INIT_MARK=/var/lib/postgresql/.init-incomplete
# A former primary's data directory, as it was before a rejoin discarded what only it had:
# $KEPT-<UTC time>, one per rejoin that discarded something (never replaced: an older copy
# may hold the only record of transactions acknowledged there).
KEPT=/var/lib/postgresql/divergido
# One wrapper at a time on this volume (serve holds it for the server's life).
LOCK=/var/lib/postgresql/.biblioteca-postgres.lock
: "${PGDATA:?PGDATA (the data directory) is required}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_INITDB_ARGS:=}"
: "${BIBLIOTECA_AUTO_REJOIN:=1}"
: "${PG_PEER_PORT:=5432}"
: "${PGPORT:=5432}"
export PGDATA PGPORT

# The log goes to the container's stderr as it was at start (fd 3): a trap can run inside a
# command whose stderr is redirected (run … 2>/dev/null), and its message must not go there.
exec 3>&2
log() { printf '%s biblioteca-postgres[%s]: %s\n' "$(date -u +%FT%TZ)" "${NAME:-?}" "$*" >&3; }
die() { log "ERROR: $*"; exit 1; }
# run's output file goes with the script (die, set -e, a signal); `exec postgres` runs no trap, and removes it first.
trap 'rm -f ${OUT:+"$OUT"}' EXIT

usage() { sed -n '8,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Until `exec postgres` this script is the container's PID 1, which the kernel gives no
# default signal handling: without a trap `docker stop` would wait out the whole grace
# period and SIGKILL. And bash runs a trap only once the foreground command it waits for
# has ended — for SIGINT (the postgres image's stop signal) not even then, unless that
# command died of it too. So every command that may take a while (a clone, a rewind, a
# query to a peer that does not answer, a sleep) runs in the background under `run`, whose
# `wait` a signal interrupts at once; the trap stops it. Its output goes to a file, never
# through $(…), which is a foreground subshell. A clone or rewind cut short is left to its
# marker (the next start redoes it).
CHILD=""
on_stop() {
  [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
  log "stop requested before the server started: exiting (interrupted work is redone at the next start)"
  exit 143
}
trap on_stop INT TERM
# `<&0`: a background command's stdin is /dev/null unless redirected; keep the caller's (a heredoc).
run() { "$@" <&0 & CHILD=$!; local rc=0; wait "$CHILD" || rc=$?; CHILD=""; return "$rc"; }
nap() { run sleep "$1"; }
# Where run's output is read back from (a file, not a pipe: see above); made once running as postgres.
OUT=""

CMD="${1:-}"; [ $# -gt 0 ] && shift
NAME=""; INITIAL=""; PEER_WAIT_S=30; PEER_SETTLE_S=10; LISTEN=""; RECLONE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME="$2"; shift 2 ;;
    --initial) INITIAL="$2"; shift 2 ;;
    --peer-wait-s) PEER_WAIT_S="$2"; shift 2 ;;
    --peer-settle-s) PEER_SETTLE_S="$2"; shift 2 ;;
    --listen) LISTEN="$2"; shift 2 ;;
    --reclone) RECLONE=1; shift ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ -n "$NAME" ] || usage
: "${PG_PEER_HOST:?PG_PEER_HOST (the other PostgreSQL node) is required}"
[ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is required (the superuser's password)"
[ -n "${POSTGRES_REPLICATION_PASSWORD:-}" ] || die "POSTGRES_REPLICATION_PASSWORD is required (the password of the replication role $REPL_USER)"
[ "$POSTGRES_REPLICATION_PASSWORD" != "$POSTGRES_PASSWORD" ] || die "POSTGRES_REPLICATION_PASSWORD must differ from POSTGRES_PASSWORD: the replication role is not the superuser"
# SCHED_BATCH, like the system's processes beside it (common/scheduling.ts): set on this
# shell, so everything it runs (the re-exec as postgres, postgres itself) inherits it.
# PLANIFICADOR=normal keeps SCHED_OTHER; without chrt, or refused, a warning and no change.
case "${PLANIFICADOR:-batch}" in
  batch) chrt --batch --pid 0 $$ 2>/dev/null || log "WARNING: SCHED_BATCH not applied (chrt from util-linux missing or refused); running under the current policy" ;;
  normal) ;;
  *) die "PLANIFICADOR='$PLANIFICADOR' is not valid: use batch or normal" ;;
esac

# ---------------------------------------------------------------- helpers

# The superuser's and the replication role's passwords, each for its own user.
passfile_escape() { local pw="${1//\\/\\\\}"; printf '%s' "${pw//:/\\:}"; }
write_passfile() {
  ( umask 077; printf '*:*:*:%s:%s\n*:*:*:%s:%s\n' "$REPL_USER" "$(passfile_escape "$POSTGRES_REPLICATION_PASSWORD")" \
      "$POSTGRES_USER" "$(passfile_escape "$POSTGRES_PASSWORD")" > "$PASSFILE" )
}

peer_conninfo() { printf 'host=%s port=%s user=%s dbname=postgres connect_timeout=3' "$PG_PEER_HOST" "$PG_PEER_PORT" "$POSTGRES_USER"; }

# One value from the peer into ANSWER (empty when it does not answer).
peer_query() {
  ANSWER=""
  run psql "$(peer_conninfo)" -XAtqc "$1" >"$OUT" 2>/dev/null || return 0
  read -r ANSWER <"$OUT" || true
}

# PEER_ROLE: primary | standby | unreachable
peer_role() {
  peer_query 'SELECT pg_is_in_recovery()'
  case "$ANSWER" in f) PEER_ROLE=primary ;; t) PEER_ROLE=standby ;; *) PEER_ROLE=unreachable ;; esac
}

# PEER_TL: the timeline the peer is on (empty if it does not answer). A standby's by the
# GA's own rule (postgres/admin.ts pgRole): the one its walreceiver streams on, else its last
# restartpoint's or min-recovery one; a primary's, the one it writes WAL on now.
peer_standby_timeline() {
  peer_query "SELECT coalesce((SELECT received_tli FROM pg_stat_wal_receiver WHERE received_tli > 0),
    greatest((pg_control_checkpoint()).timeline_id, (pg_control_recovery()).min_recovery_end_timeline))"
  PEER_TL="$ANSWER"
}
peer_primary_timeline() {
  peer_query 'SELECT pg_walfile_name(pg_current_wal_lsn())'
  PEER_TL=""
  [[ "$ANSWER" =~ ^[0-9A-F]{24}$ ]] && PEER_TL=$((16#${ANSWER:0:8}))
  return 0
}

# This (stopped) node's timeline: its checkpoint's or min-recovery one, or a newer one
# whose history file it wrote (a promotion whose first checkpoint never completed). Not on
# a standby: its walreceiver fetches every history file of its primary, promoted or not.
local_timeline() {
  local tl h n
  tl="$(LC_ALL=C pg_controldata "$PGDATA" | awk -F: '
    /^Latest checkpoint.s TimeLineID/ || /^Min recovery ending loc.s timeline/ { v = $2 + 0; if (v > m) m = v }
    END { print m + 0 }' || true)"
  [ -f "$PGDATA/standby.signal" ] && { echo "$tl"; return; }
  for h in "$PGDATA"/pg_wal/*.history; do
    [ -e "$h" ] || continue
    n=$((16#$(basename "$h" .history))); [ "$n" -gt "$tl" ] && tl=$n
  done
  echo "$tl"
}

# The slot keeps the WAL this standby still needs on the primary.
# A slot the primary gave up on (wal_status 'lost': past max_slot_wal_keep_size while
# this node was away) can never stream again: drop it and make a fresh one.
ensure_slot_on_peer() {
  run psql "$(peer_conninfo)" -XAtq -v ON_ERROR_STOP=1 -v slot="$NAME" <<'SQL' >/dev/null
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE slot_name = :'slot' AND wal_status = 'lost' AND NOT active;
SELECT pg_create_physical_replication_slot(:'slot', true)
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
}

# SLOT_LOST=1 when the peer gave this node's slot up (wal_status 'lost': some WAL the
# slot kept was removed, since this standby stayed away past max_slot_wal_keep_size):
# the WAL it would resume from is gone, and streaming could only fail, forever.
slot_lost_on_peer() {
  SLOT_LOST=0
  run psql "$(peer_conninfo)" -XAtq -v slot="$NAME" <<'SQL' >"$OUT" 2>/dev/null || return 0
SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot' AND wal_status = 'lost' AND NOT active;
SQL
  grep -qx 1 "$OUT" && SLOT_LOST=1
  return 0
}

# A standby must never carry the primary's synchronous_standby_names into a
# promotion (commits would wait for a standby that is itself).
strip_sync_names() {
  [ -f "$PGDATA/postgresql.auto.conf" ] && sed -i '/^[[:space:]]*synchronous_standby_names/d' "$PGDATA/postgresql.auto.conf"
  return 0
}

try_slot_on_peer() { ensure_slot_on_peer || log "could not create slot $NAME on the peer now; the walreceiver retries until it exists"; }

make_standby() {
  touch "$PGDATA/standby.signal"
  strip_sync_names
  try_slot_on_peer
}

wait_for_peer_primary() {
  local n=0
  until peer_role && [ "$PEER_ROLE" = primary ]; do
    [ $((n % 12)) -eq 0 ] && log "waiting for the primary at $PG_PEER_HOST:$PG_PEER_PORT to clone from…"
    n=$((n + 1)); nap 5
  done
}

clone_from_peer() {
  wait_for_peer_primary
  touch "$CLONE_MARK"
  find "$PGDATA" -mindepth 1 -delete
  ensure_slot_on_peer
  log "cloning $PG_PEER_HOST:$PG_PEER_PORT with pg_basebackup (slot $NAME)"
  run pg_basebackup -h "$PG_PEER_HOST" -p "$PG_PEER_PORT" -U "$REPL_USER" -D "$PGDATA" \
    -X stream -S "$NAME" --checkpoint=fast --no-password
  make_standby
  rm -f "$CLONE_MARK"
  log "clone complete: a standby of $PG_PEER_HOST:$PG_PEER_PORT"
}

# A value inside a psql meta-command's single quotes: backslashes and quotes escaped.
psql_quote() { local v="${1//\\/\\\\}"; printf '%s' "${v//\'/\\\'}"; }

# SQL on the temporary server of init_primary (local socket, trust).
init_sql() { psql -X -v ON_ERROR_STOP=1 --no-psqlrc -q --username "$POSTGRES_USER" --no-password --dbname postgres "$@"; }

init_primary() {
  log "initialising a new primary (initdb)"
  # Until the replication role exists: a node cut short here would otherwise start
  # next time as a "former primary" that no standby can clone.
  touch "$INIT_MARK"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options, as in the postgres image
  run initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS >/dev/null
  # Passwords on TCP from anywhere (the image's own rule), and the replication role, which
  # may stream WAL and nothing else: first-match rules refuse it any database.
  sed -i "1i local all $REPL_USER reject\nhost all $REPL_USER all reject" "$PGDATA/pg_hba.conf"
  printf 'host all all all scram-sha-256\nhost replication %s all scram-sha-256\n' "$REPL_USER" >> "$PGDATA/pg_hba.conf"
  # A temporary server on the local socket only: nobody else sees a half-made node.
  run pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p $PGPORT" start >/dev/null
  [ "$POSTGRES_DB" = postgres ] || init_sql -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  # The password goes in on stdin (psql's \set), never on a command line `ps` shows.
  init_sql -v role="$REPL_USER" <<SQL
\set pw '$(psql_quote "$POSTGRES_REPLICATION_PASSWORD")'
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"role" WITH REPLICATION LOGIN PASSWORD :'pw';
SQL
  run pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  rm -f "$INIT_MARK"
  log "initialised a new primary (database $POSTGRES_DB, replication role $REPL_USER)"
}

# COMMITS: transactions this node committed after LSN $1 on timeline $2 (its own WAL, read
# by pg_waldump); empty when that cannot be told. Set, not printed: $(…) would hold off a stop.
waldump_commits() {
  # Streamed, counted in one pass (a long divergence is a lot of WAL). pg_waldump ends on an
  # error at the end of the WAL; no record at all means it could not read it: print nothing.
  { pg_waldump --path="$PGDATA/pg_wal" --timeline="$2" --start="$1" 2>/dev/null || true; } |
    awk '{ records++ } /desc: COMMIT/ { commits++ } END { if (records) print commits + 0 }'
}
commits_after() {
  COMMITS=""
  command -v pg_waldump >/dev/null || return 0
  run waldump_commits "$1" "$2" >"$OUT" || return 0
  read -r COMMITS <"$OUT" || true
}

# Copies the data directory to a new $KEPT-<UTC time> before a rejoin discards what only
# this node had; $1 says why, for the note beside it. Earlier copies stay: a later rejoin
# (a killed standby, a failed crash recovery) has nothing of its own to keep, and replacing
# the copy of a former primary's divergent commits with it lost them (seen in CI).
keep_aside() {
  local kept
  kept="$KEPT-$(date -u +%Y%m%dT%H%M%SZ)"
  [ -e "$kept" ] && kept="$kept-$$"
  log "WARNING: $1; keeping this data directory at $kept before discarding it (earlier copies stay; docs/deploy.md, 'What a rejoin discards')"
  # Copies an earlier start left half made (a full disk, a kill): never whole, never read.
  rm -rf "$KEPT"-*.tmp
  # A copy that fails (a full disk) stops here, before anything is discarded, and says so at every restart.
  run cp -a "$PGDATA" "$kept.tmp" || { rm -rf "$kept.tmp"; die "could not copy this data directory to $kept.tmp (disk full?): NOT rejoining, nothing discarded; free space on the volume (older copies: $KEPT-*) and restart"; }
  rm -f "$kept.tmp/standby.signal" "$kept.tmp/postmaster.pid"
  printf '%s\n' "$(date -u +%FT%TZ) $NAME: $1" "new primary: $PG_PEER_HOST:$PG_PEER_PORT" > "$kept.tmp/DIVERGIDO.txt"
  mv "$kept.tmp" "$kept"
}

# A killed node's crash recovery, in single-user mode with the server's settings, as
# pg_rewind would run it itself (its --dry-run does not, and then refuses the node).
finish_crash_recovery() {
  local state
  state="$(LC_ALL=C pg_controldata "$PGDATA" | sed -n 's/^Database cluster state: *//p' || true)"
  case "$state" in "shut down" | "shut down in recovery") return ;; esac
  log "completing the crash recovery of this node (state: ${state:-unknown}) in single-user mode"
  local -a args
  mapfile -d '' args < <(server_args)
  run postgres --single -F -D "$PGDATA" "${args[@]}" template1 </dev/null >/dev/null
}

# Back as a standby of the peer (a primary now). Crash recovery first, then
# pg_rewind --dry-run, which tells where the histories diverged:
#   * this node's WAL is a prefix of the new timeline: nothing to undo, only the signal;
#   * it diverged: the transactions it committed after the divergence point exist only
#     here (in sync mode none was acknowledged; in async mode some may have been):
#     counted, kept aside if any, then pg_rewind;
#   * pg_rewind cannot do it: kept aside, then a fresh clone.
# The clone marker covers the rewind too: a rewind cut short leaves a directory that is
# neither the old node nor the new one, and the next start clones instead.
rejoin_peer() {
  # A killed server leaves postmaster.pid naming its container's PID 1; in this
  # container PID 1 is this script, so the single-user crash recovery pg_rewind
  # runs would take it for a live server and refuse. Nothing else runs on this
  # data directory here (rejoin checks the network first).
  rm -f "$PGDATA/postmaster.pid"
  if [ "$RECLONE" -eq 0 ] && [ -s "$PGDATA/PG_VERSION" ]; then
    local plan at tl n
    if ! finish_crash_recovery; then
      # E.g. a killed standby (standby.signal: single-user mode refuses it), which pg_rewind
      # could not have recovered either: keep it and clone, as when pg_rewind fails.
      log "crash recovery in single-user mode failed: cloning the primary instead"
      keep_aside "this node's data is replaced by a fresh clone (its crash recovery failed)"
      clone_from_peer
      return
    fi
    log "pg_rewind --dry-run from $PG_PEER_HOST:$PG_PEER_PORT"
    local dry=0
    run pg_rewind --dry-run --target-pgdata="$PGDATA" --source-server="$(peer_conninfo)" >"$OUT" 2>&1 || dry=$?
    plan="$(<"$OUT")"
    if [ "$dry" -eq 0 ]; then
      sed 's/^/  pg_rewind: /' <<<"$plan" >&2
      if grep -q 'no rewind required' <<<"$plan"; then
        make_standby
        log "rejoined: a standby of $PG_PEER_HOST:$PG_PEER_PORT (nothing diverged)"
        return
      fi
      at="$(sed -n 's/.*servers diverged at WAL location \([0-9A-F]*\/[0-9A-F]*\).*/\1/p' <<<"$plan")"
      tl="$(local_timeline)"
      n=""
      [ -n "$at" ] && { commits_after "$at" "$tl"; n="$COMMITS"; }
      if [ "$n" != 0 ]; then
        keep_aside "${n:-an unknown number of} transaction(s) committed here after $at (timeline $tl) are not on the new primary"
      else
        log "no transaction committed here after the divergence point $at: nothing of value is discarded"
      fi
      touch "$CLONE_MARK"
      local rewound=0
      run pg_rewind --target-pgdata="$PGDATA" --source-server="$(peer_conninfo)" >"$OUT" 2>&1 || rewound=$?
      sed 's/^/  pg_rewind: /' "$OUT" >&2
      if [ "$rewound" -eq 0 ]; then
        make_standby
        rm -f "$CLONE_MARK"
        log "rejoined: a standby of $PG_PEER_HOST:$PG_PEER_PORT"
        return
      fi
      log "pg_rewind failed: cloning the primary instead"
    else
      sed 's/^/  pg_rewind: /' <<<"$plan" >&2
      log "pg_rewind cannot rejoin this node: cloning the primary instead"
      keep_aside "the former primary's data is replaced by a fresh clone (pg_rewind could not rewind it)"
    fi
  elif [ -s "$PGDATA/PG_VERSION" ]; then
    keep_aside "the former primary's data is replaced by a fresh clone (--reclone)"
  fi
  clone_from_peer
}

# This standby's slot was given up (slot_lost_on_peer): the WAL it needs is gone, so only
# a fresh clone brings it back. A standby's data is a prefix of its primary's, and a fresh
# copy then loses nothing; but a former primary may have been made a standby without a
# rejoin (BIBLIOTECA_AUTO_REJOIN=0, or started while the peer was away) and hold commits
# the primary lacks. pg_rewind --dry-run (on a cleanly stopped node) tells. LOST_PLAN:
# clone (nothing to lose), keep (kept aside, then cloned) or manual (BIBLIOTECA_AUTO_REJOIN=0:
# left for the rejoin). Decides only: the caller acts, outside any condition, so that
# `set -e` still stops a clone that fails.
plan_lost_standby() {
  log "this standby stayed away past max_slot_wal_keep_size: its slot $NAME on $PG_PEER_HOST:$PG_PEER_PORT was given up and the WAL it needs is gone"
  rm -f "$PGDATA/postmaster.pid"
  LOST_STATE="$(LC_ALL=C pg_controldata "$PGDATA" | sed -n 's/^Database cluster state: *//p' || true)"
  LOST_PLAN=manual
  if [ "$LOST_STATE" = "shut down in recovery" ]; then
    run pg_rewind --dry-run --target-pgdata="$PGDATA" --source-server="$(peer_conninfo)" >"$OUT" 2>&1 && grep -q 'no rewind required' "$OUT" && LOST_PLAN=clone
  fi
  [ "$LOST_PLAN" = manual ] && [ "$BIBLIOTECA_AUTO_REJOIN" = 1 ] && LOST_PLAN=keep
  return 0
}

# A message for a peer primary that is not on a newer timeline than ours: two primaries.
split_brain_advice() {
  printf '%s' "the peer $PG_PEER_HOST:$PG_PEER_PORT is a PRIMARY on timeline $1, not newer than ours ($2): two primaries (a split brain: this node was promoted beside it, or the two never shared a history). NOT rejoining it (that would throw away this node's newer history) and NOT starting beside it. To end it: stop the peer's PostgreSQL container; this node then starts as a standby after ${PEER_WAIT_S}s, the GA pair promotes it (the newest timeline), and the peer, started again, rejoins it by itself (docs/deploy.md, 'Bringing a former primary back')"
}

# A former primary (no standby.signal) decides how to come back.
decide_former_primary() {
  local waited=0 settled=0 newer=0 older=0 own_tl
  own_tl="$(local_timeline)"
  while :; do
    peer_role
    case "$PEER_ROLE" in
      standby)
        # A standby on a newer timeline was a primary after us: it holds commits we
        # lack. Only the GA pair may promote it; we follow it once it did.
        # It may have changed (promoted, restarted) since peer_role: unknown, not fatal, and
        # the settling below starts over.
        peer_standby_timeline
        # Not told its timeline (a slow or restarting peer): not a calm second either.
        if [ -z "$PEER_TL" ]; then settled=0; nap 2; continue; fi
        if [ "$PEER_TL" -gt "$own_tl" ]; then
          [ $((newer % 30)) -eq 0 ] && log "WARNING: the peer $PG_PEER_HOST:$PG_PEER_PORT is a standby on timeline $PEER_TL, newer than ours ($own_tl): NOT starting as the primary; waiting for the GA pair to promote it, then rejoining it"
          newer=$((newer + 1)); settled=0; nap 2; continue
        fi
        # The peer may be a standby only until its GA promotes it: that GA lost this
        # node moments ago. Starting as primary is safe only once it stayed a standby
        # for longer than a takeover takes.
        if [ "$settled" -ge "$PEER_SETTLE_S" ]; then
          log "the peer stayed a standby for ${PEER_SETTLE_S}s: starting as the primary"
          return
        fi
        [ "$settled" -eq 0 ] && log "the peer is a standby; making sure no takeover promotes it (${PEER_SETTLE_S}s) before starting as the primary"
        nap 1; settled=$((settled + 1)); continue ;;
      primary)
        # Only a primary promoted after us holds our history and more. One on an older (or
        # the same) timeline kept writing while this node was promoted in its place: a
        # rewind onto it would discard what this node acknowledged since.
        peer_primary_timeline
        if [ -z "$PEER_TL" ]; then settled=0; nap 2; continue; fi
        if [ "$PEER_TL" -le "$own_tl" ]; then
          [ $((older % 30)) -eq 0 ] && log "WARNING: $(split_brain_advice "$PEER_TL" "$own_tl")"
          older=$((older + 1)); settled=0; nap 2; continue
        fi
        if [ "$BIBLIOTECA_AUTO_REJOIN" = 1 ]; then
          log "WARNING: the peer $PG_PEER_HOST:$PG_PEER_PORT is a PRIMARY (a failover happened while this node was away): rejoining it as its STANDBY"
          rejoin_peer
        else
          log "WARNING: the peer $PG_PEER_HOST:$PG_PEER_PORT is a PRIMARY (a failover happened while this node was away): starting as its STANDBY, read-only (BIBLIOTECA_AUTO_REJOIN=0: if it diverged, run the rejoin, docs/deploy.md)"
          make_standby
        fi
        return ;;
    esac
    settled=0
    if [ "$waited" -ge "$PEER_WAIT_S" ]; then
      log "WARNING: the peer $PG_PEER_HOST:$PG_PEER_PORT did not answer for ${PEER_WAIT_S}s: starting as a STANDBY (read-only); the GA pair promotes this node if it is on the newest timeline"
      make_standby
      return
    fi
    nap 2; waited=$((waited + 2))
  done
}

server_args() {
  local line key value
  while IFS= read -r line; do
    line="${line%%#*}"
    [[ "$line" =~ ^[[:space:]]*([a-z_]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] || continue
    key="${BASH_REMATCH[1]}"; value="${BASH_REMATCH[2]}"
    printf '%s\0' -c "$key=$value"
  done < "$HERE/replication.conf"
  # Used only while standby.signal exists; the password comes from PGPASSFILE.
  printf '%s\0' -c "primary_conninfo=host=$PG_PEER_HOST port=$PG_PEER_PORT user=$REPL_USER application_name=$NAME connect_timeout=3" \
    -c "primary_slot_name=$NAME" -c "cluster_name=$NAME" -c "port=$PGPORT"
}

# ---------------------------------------------------------------- commands

serve() {
  local -a args
  mapfile -d '' args < <(server_args)
  # Settings from the compose file (listen_addresses) come last and win.
  set -- "${args[@]}" "$@"

  if [ -f "$INIT_MARK" ]; then
    log "a previous initdb did not finish: starting this node over"
    find "$PGDATA" -mindepth 1 -delete
    rm -f "$INIT_MARK"
  fi
  if [ -f "$CLONE_MARK" ]; then
    log "a previous clone or rewind did not finish: cloning again"
    clone_from_peer
  elif [ ! -s "$PGDATA/PG_VERSION" ]; then
    # An empty volume next to a live peer (a replaced disk, a wiped volume) becomes its
    # standby whatever --initial says: a second, unrelated primary would serve an empty
    # library beside the real one. A standby peer holds the data too: its GA promotes it
    # once ours finds no database, and we clone it then.
    local peer
    peer_role; peer="$PEER_ROLE"
    [ "$peer" = standby ] && [ "$INITIAL" = primary ] &&
      log "WARNING: empty data directory, and the peer $PG_PEER_HOST:$PG_PEER_PORT is a standby holding the data: NOT initialising a new primary; waiting for it to be promoted, then cloning it"
    if [ "$INITIAL" = standby ] || [ "$peer" != unreachable ]; then
      clone_from_peer
    elif [ "$INITIAL" = primary ]; then
      init_primary
    else
      die "empty data directory and no --initial primary|standby"
    fi
  elif [ -f "$PGDATA/standby.signal" ]; then
    strip_sync_names
    # Its slot may be missing: the primary was promoted while this node was away (the active
    # GA makes it too, gestor_almacenamiento/replication/mode.ts, but it may not run yet).
    peer_role
    [ "$PEER_ROLE" = primary ] && slot_lost_on_peer
    if [ "$PEER_ROLE" = primary ] && [ "$SLOT_LOST" = 1 ]; then
      plan_lost_standby
      case "$LOST_PLAN" in
        clone)
          log "nothing here that the primary lacks (pg_rewind --dry-run): cloning the primary again"
          clone_from_peer ;;
        keep)
          keep_aside "this standby's data is replaced by a fresh clone (its slot was given up) and pg_rewind could not show that it holds nothing the primary lacks (state: ${LOST_STATE:-unknown})"
          clone_from_peer ;;
        *)
          # The lost slot stays, to say so at every start.
          log "WARNING: pg_rewind could not show that this node holds nothing the primary lacks (state: ${LOST_STATE:-unknown}), and BIBLIOTECA_AUTO_REJOIN=0: NOT recloning; starting as a standby that cannot stream until the rejoin with --reclone (docs/deploy.md)" ;;
      esac
    else
      if [ "$PEER_ROLE" = primary ]; then try_slot_on_peer; fi
      log "starting as a standby of $PG_PEER_HOST:$PG_PEER_PORT"
    fi
  else
    decide_former_primary
  fi
  rm -f "$OUT"
  exec 3>&-
  exec postgres "$@"
}

rejoin() {
  [ -n "$LISTEN" ] || die "--listen <this host's address> is required (to make sure this node is stopped)"
  # pg_rewind on a data directory that a running server uses destroys it; the
  # server runs in another container, so ask the network, not postmaster.pid.
  if pg_isready -q -h "$LISTEN" -p "$PGPORT" -t 3; [ $? -ne 2 ]; then
    die "something answers on $LISTEN:$PGPORT: stop this host's PostgreSQL container first (docker stop ${NAME}-postgres)"
  fi
  peer_role
  [ "$PEER_ROLE" = primary ] || die "the peer $PG_PEER_HOST:$PG_PEER_PORT is not a reachable primary: nothing to rejoin"
  local own_tl
  own_tl="$(local_timeline)"
  peer_primary_timeline
  [ -n "$PEER_TL" ] || die "the peer $PG_PEER_HOST:$PG_PEER_PORT did not say its timeline: try again"
  [ "$PEER_TL" -gt "$own_tl" ] || die "$(split_brain_advice "$PEER_TL" "$own_tl"). To discard this node's data anyway: copy it away, empty its volume and start the container (it clones the peer)"
  rejoin_peer
  log "done: start the container (docker start ${NAME}-postgres); it follows $PG_PEER_HOST:$PG_PEER_PORT"
}

case "$CMD" in
  serve|rejoin)
    if [ "$(id -u)" = 0 ]; then
      # As root (the image default): the directories and the password file, then
      # this script again as the postgres user, as the official image does.
      install -d -o postgres -g postgres -m 0700 "$PGDATA"
      find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
      chown postgres:postgres /var/lib/postgresql
      install -d -o postgres -g postgres -m 3777 /var/run/postgresql
      write_passfile
      chown postgres:postgres "$PASSFILE"
      again=("$CMD" --name "$NAME" --peer-wait-s "$PEER_WAIT_S" --peer-settle-s "$PEER_SETTLE_S")
      [ -n "$INITIAL" ] && again+=(--initial "$INITIAL")
      [ -n "$LISTEN" ] && again+=(--listen "$LISTEN")
      [ "$RECLONE" -eq 1 ] && again+=(--reclone)
      exec gosu postgres "${BASH_SOURCE[0]}" "${again[@]}" -- "$@"
    fi
    export PGPASSFILE="$PASSFILE"
    OUT="$(mktemp "${TMPDIR:-/tmp}/biblioteca-postgres.XXXXXX")"
    # One wrapper at a time on this volume: serve keeps fd 9 open across `exec postgres`, so a
    # rejoin cannot rewind or clone under a server that runs or is still waiting to start (it
    # listens on nothing then, so the rejoin's network check cannot see it), nor two starts
    # race on one data directory.
    exec 9>>"$LOCK"
    flock -n 9 || die "another run of this wrapper holds $PGDATA (this volume's server, running or waiting to start, or a rejoin): a rejoin needs the server's container stopped (docker stop ${NAME}-postgres); a start waits until a rejoin ends"
    "$CMD" "$@" ;;
  *) usage ;;
esac
