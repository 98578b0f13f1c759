// PM2 ecosystem for the reference system: one binary, four processes.
// Restart policy is deliberate (SYSTEM-SPEC section 1):
//   autorestart      a crashed process comes back by itself;
//   min_uptime       a process that dies within 5 s counts as a failed start;
//   max_restarts     10 failed starts in a row and PM2 marks it "errored"
//                    instead of crash-looping forever (chaos checks this);
//   no restart_delay PM2 6 reports a process that used up max_restarts as
//                    "waiting restart" (for ever, no pid) instead of "errored"
//                    when restart_delay or exp_backoff_restart_delay is set, so
//                    alerts on "errored" would never fire (found by the chaos
//                    experiment crash_loop). The processes do not exit when a
//                    dependency is down (pools and Redis reconnect inside), so
//                    an immediate restart hammers nothing;
//   max_memory_restart  a leaking process is recycled before the host suffers.
// Logs go to PID 1's stdout/stderr, i.e. `docker logs`.
const common = {
  script: "/usr/local/bin/gauntlet-system",
  interpreter: "none",
  autorestart: true,
  min_uptime: "5s",
  max_restarts: 10,
  kill_timeout: 5000,
  out_file: "/proc/1/fd/1",
  error_file: "/proc/1/fd/2",
  merge_logs: true,
  time: false,
  // glibc raises its mmap threshold after a large free, so the 19 MiB
  // argon2 buffers of later hashes come from per-thread arenas that keep
  // them: the api reached 512 MiB after one journeys pass and PM2 recycled
  // it mid-run (connections dropped). A fixed threshold gives them back.
  env: { MALLOC_MMAP_THRESHOLD_: "131072" },
};

module.exports = {
  apps: [
    { ...common, name: "api", args: "api", max_memory_restart: "512M" },
    { ...common, name: "web", args: "web", max_memory_restart: "256M" },
    { ...common, name: "worker", args: "worker", max_memory_restart: "256M" },
    { ...common, name: "sink", args: "sink", max_memory_restart: "256M" },
  ],
};
