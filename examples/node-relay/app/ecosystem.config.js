// PM2 ecosystem: the relay's three processes, run by `pm2-runtime` as the
// container's main process (under tini, which reaps orphans).
//   autorestart    a crashed or killed process comes back by itself (chaos:
//                  *_killed experiments prove it);
//   min_uptime /   a process dying within 5 s counts as a failed start, and
//   max_restarts   10 of those in a row mark it "errored" instead of a crash
//                  loop for ever. Nothing here exits when Redis is away (the
//                  connection reconnects inside), so a restart is never a
//                  way to wait for Redis;
//   out_file ...   pm2-runtime prints every process's output on its own
//                  stdout (docker logs); no log files grow in the container.
const common = {
  cwd: "/app",
  autorestart: true,
  min_uptime: "5s",
  max_restarts: 10,
  kill_timeout: 3000,
  out_file: "/dev/null",
  error_file: "/dev/null",
  time: false,
};

module.exports = {
  apps: [
    { ...common, name: "api", script: "src/api.js" },
    { ...common, name: "worker", script: "src/worker.js" },
    { ...common, name: "sink", script: "src/sink.js" },
  ],
};
