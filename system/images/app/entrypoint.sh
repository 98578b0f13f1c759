#!/bin/sh
# Boots PM2 the way the seeds' pm2-deploy.service does: on every boot
# `pm2 resurrect` restores the saved process list; on the very first boot
# (no dump yet) the ecosystem file is started and saved.
# PID 1 is tini; this script stays in the foreground independently of the
# PM2 daemon, so `pm2 kill` inside the container does not end the container
# (chaos experiments rely on being able to `pm2 resurrect` afterwards).
set -eu
dump="$PM2_HOME/dump.pm2"

if [ -s "$dump" ]; then
  echo "gauntlet-app: resurrecting PM2 processes from $dump"
  pm2 resurrect
else
  echo "gauntlet-app: first boot, starting the ecosystem and saving it"
  pm2 start /app/ecosystem.config.js
  pm2 save
fi

stop() {
  echo "gauntlet-app: stopping PM2"
  pm2 kill >/dev/null 2>&1 || true
  exit 0
}
trap stop TERM INT

while :; do
  sleep 3600 &
  wait $! || true
done
