#!/bin/bash
# gauntlet-backup: backups of the application database (SYSTEM-SPEC
# section 9), run by the `backup` service in docker-compose.yml.
#
#   gauntlet-backup loop                  every BACKUP_INTERVAL: take, then prune
#   gauntlet-backup take [--snapshot ID] [-- PG_DUMP_ARGS...]
#                                         one backup now; prints its manifest
#   gauntlet-backup list                  manifests, oldest first (JSON lines)
#   gauntlet-backup check                 is the newest backup younger than
#                                         BACKUP_MAX_AGE? exit 0 yes, 1 no
#   gauntlet-backup archive-list FILE     pg_restore --list (reads the archive)
#   gauntlet-backup restore FILE          restore into $PGDATABASE on $PGHOST
#                                         the way the seeds' runbooks do, then
#                                         advance every sequence by
#                                         RESTORE_ID_GAP (see restore below)
#   gauntlet-backup ready                 health: server reachable, dir writable
#
# A backup is `pg_dump -Fc` written to a hidden partial file and renamed
# when complete, so a crash mid-dump never leaves a file that looks whole;
# next to it a manifest (<name>.json) records start and end, size and
# sha256. `--snapshot` dumps a snapshot exported by another session
# (pg_export_snapshot), so that session can fingerprint exactly what the
# dump holds. Retention keeps the newest BACKUP_KEEP backups.
#
# Connection: libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
set -euo pipefail

: "${BACKUP_DIR:=/backups}"
: "${BACKUP_KEEP:=7}"
: "${BACKUP_INTERVAL:=1h}"
: "${BACKUP_MAX_AGE:=26h}"
: "${PGDATABASE:=gauntlet}"
: "${RESTORE_ID_GAP:=1000000}"

die() {
  echo "gauntlet-backup: $*" >&2
  exit 2
}

now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# 90, 90s, 5m, 1h, 2d -> seconds
seconds() {
  local value=$1 number unit
  [[ $value =~ ^([0-9]+)([smhd]?)$ ]] || die "not a duration: '$value' (use e.g. 90s, 5m, 1h, 2d)"
  number=${BASH_REMATCH[1]}
  unit=${BASH_REMATCH[2]}
  case $unit in
    d) echo $((number * 86400)) ;;
    h) echo $((number * 3600)) ;;
    m) echo $((number * 60)) ;;
    *) echo "$number" ;;
  esac
}

[[ $BACKUP_KEEP =~ ^[1-9][0-9]*$ ]] || die "BACKUP_KEEP must be a positive number, not '$BACKUP_KEEP'"
[[ $RESTORE_ID_GAP =~ ^[0-9]+$ ]] || die "RESTORE_ID_GAP must be a number, not '$RESTORE_ID_GAP'"

take() {
  local snapshot=""
  while [ $# -gt 0 ]; do
    case $1 in
      --snapshot) snapshot=${2:?--snapshot needs an id}; shift 2 ;;
      --) shift; break ;;
      *) die "take: unknown option '$1'" ;;
    esac
  done
  local arg
  for arg in "$@"; do
    [[ $arg =~ ^[-A-Za-z0-9_=.,*]+$ ]] || die "take: unsupported pg_dump argument '$arg'"
  done
  mkdir -p "$BACKUP_DIR"
  local name started finished partial file bytes sha
  name="$PGDATABASE-$(date -u +%Y%m%dT%H%M%S%3NZ)"
  partial="$BACKUP_DIR/.$name.dump.partial"
  file="$BACKUP_DIR/$name.dump"
  started=$(now_iso)
  if ! pg_dump -Fc ${snapshot:+"--snapshot=$snapshot"} "$@" -f "$partial"; then
    rm -f "$partial"
    echo "gauntlet-backup: pg_dump of $PGDATABASE failed" >&2
    return 1
  fi
  sync "$partial"
  mv "$partial" "$file"
  finished=$(now_iso)
  bytes=$(stat -c %s "$file")
  sha=$(sha256sum "$file" | cut -d' ' -f1)
  printf '{"name":"%s","file":"%s","database":"%s","started_at":"%s","finished_at":"%s","bytes":%s,"sha256":"%s","snapshot":"%s","pg_dump_args":"%s"}\n' \
    "$name" "$file" "$PGDATABASE" "$started" "$finished" "$bytes" "$sha" "$snapshot" "$*" >"$BACKUP_DIR/.$name.json"
  mv "$BACKUP_DIR/.$name.json" "$BACKUP_DIR/$name.json"
  cat "$BACKUP_DIR/$name.json"
  prune
}

# Keeps the newest BACKUP_KEEP backups (names sort by time).
prune() {
  local old
  while read -r old; do
    [ -n "$old" ] || continue
    rm -f "$BACKUP_DIR/$old.dump" "$BACKUP_DIR/$old.json"
    echo "gauntlet-backup: retention ($BACKUP_KEEP): removed $old" >&2
  done < <(manifests | sed 's/\.json$//' | head -n "-$BACKUP_KEEP")
}

manifests() {
  find "$BACKUP_DIR" -maxdepth 1 -name "$PGDATABASE-*.json" -printf '%f\n' 2>/dev/null | sort
}

list() {
  local m
  for m in $(manifests); do
    # Retention (a concurrent `take`) may prune a backup between the
    # listing and this read: it is gone, not an error.
    cat "$BACKUP_DIR/$m" 2>/dev/null || true
  done
}

check() {
  local max newest finished age
  max=$(seconds "$BACKUP_MAX_AGE")
  newest=$(manifests | tail -n 1)
  if [ -z "$newest" ]; then
    printf '{"status":"none","max_age_seconds":%s}\n' "$max"
    return 1
  fi
  finished=$(sed -n 's/.*"finished_at":"\([^"]*\)".*/\1/p' "$BACKUP_DIR/$newest")
  age=$(($(date -u +%s) - $(date -u -d "$finished" +%s)))
  if [ "$age" -gt "$max" ]; then
    printf '{"status":"stale","newest":"%s","age_seconds":%s,"max_age_seconds":%s}\n' "${newest%.json}" "$age" "$max"
    return 1
  fi
  printf '{"status":"fresh","newest":"%s","age_seconds":%s,"max_age_seconds":%s}\n' "${newest%.json}" "$age" "$max"
}

# The runbooks' restore, then every sequence moved RESTORE_ID_GAP past its
# restored value. Ids handed out between the backup and the disaster are
# lost with their rows but not forgotten outside: notifications, webhooks
# and e-mails already carry them. Without the gap the restored database
# hands them out again, and order 209 is a different order downstream
# (the restore drill's notification journey catches it: one order id,
# two deliveries). pg_restore's exit status is kept.
restore() {
  local file=$1 status=0
  pg_restore --clean --if-exists --no-owner --no-privileges -d "$PGDATABASE" "$file" || status=$?
  if [ "$RESTORE_ID_GAP" -gt 0 ]; then
    local moved
    moved=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "
      SELECT count(setval(format('%I.%I', schemaname, sequencename),
                          LEAST(COALESCE(last_value, start_value) + $RESTORE_ID_GAP, max_value)))
      FROM pg_sequences WHERE schemaname = 'public'") || return 1
    echo "gauntlet-backup: advanced $moved sequences by $RESTORE_ID_GAP past the backup's values"
  fi
  return "$status"
}

loop() {
  local interval
  interval=$(seconds "$BACKUP_INTERVAL")
  [ "$interval" -gt 0 ] || die "BACKUP_INTERVAL must be more than 0"
  # PID 1 in its container: leave at once on docker stop.
  trap 'exit 0' TERM INT
  echo "gauntlet-backup: every ${interval}s into $BACKUP_DIR, keeping $BACKUP_KEEP, stale after $BACKUP_MAX_AGE"
  while true; do
    sleep "$interval" &
    wait $!
    take >/dev/null || echo "gauntlet-backup: scheduled backup failed; next try in ${interval}s" >&2
  done
}

case ${1:-} in
  loop) loop ;;
  take) shift; take "$@" ;;
  list) list ;;
  check) check ;;
  archive-list) pg_restore --list "${2:?archive-list needs a file}" ;;
  restore) restore "${2:?restore needs a file}" ;;
  ready) pg_isready -q && test -w "$BACKUP_DIR" ;;
  *) die "usage: gauntlet-backup loop|take|list|check|archive-list FILE|restore FILE|ready" ;;
esac
