#!/bin/sh
# First boot: initialise the cluster with an owner role that owns the
# application database and an app role that does not (the app gets table
# privileges from the system's migrations). Later boots: just start, so a
# killed server recovers from its WAL on the same volume.
set -eu
# The same image runs the backup service: `gauntlet-backup loop`.
if [ $# -gt 0 ]; then
  exec "$@"
fi
: "${POSTGRES_DB:=gauntlet}"
: "${POSTGRES_OWNER:=gauntlet_owner}"
: "${POSTGRES_APP_ROLE:=gauntlet_app}"
: "${POSTGRES_OWNER_PASSWORD:?set POSTGRES_OWNER_PASSWORD}"
: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 -U postgres -D "$PGDATA" >/dev/null
  cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
fsync = on
synchronous_commit = on
max_connections = 200
shared_buffers = 128MB
log_destination = 'stderr'
log_min_messages = warning
CONF
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # Bootstrap over the local socket only; no network listener yet.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  psql -v ON_ERROR_STOP=1 -U postgres -d postgres -q \
       -v owner="$POSTGRES_OWNER" -v app="$POSTGRES_APP_ROLE" -v db="$POSTGRES_DB" \
       -v owner_pw="$POSTGRES_OWNER_PASSWORD" -v app_pw="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_pw';
CREATE ROLE :"app" LOGIN PASSWORD :'app_pw';
CREATE DATABASE :"db" OWNER :"owner";
\connect :"db"
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";
SQL
  # No extensions here (amcheck included): pg_dump would carry them, and a
  # restore run as the owner, not a superuser, could not drop or create
  # them. The restore drill creates amcheck for its check and drops it.
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "gauntlet-postgres: initialised $POSTGRES_DB (owner $POSTGRES_OWNER, app role $POSTGRES_APP_ROLE)"
fi
exec postgres -D "$PGDATA"
