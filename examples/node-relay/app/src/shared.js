// What the three processes (api, worker, sink) share: the Redis connection
// and its scripts, the key names, the defect switches and small HTTP helpers.
"use strict";

const http = require("node:http");
const Redis = require("ioredis");

// Key names in one place: they are the contract between the processes (and
// what the journeys' Redis probes look at).
const STREAM = "events";
const DEAD = "events:dead";
const GROUP = "relay";
const MAX_ATTEMPTS = 3;
const key = {
  event: (id) => `event:${id}`, // hash: state, attempts, kind, payload, fail_times, ...
  seen: (id) => `seen:${id}`, // claimed by the first publish of an id (SET NX)
  published: "stats:published",
  delivered: "stats:delivered",
  deadLettered: "stats:dead",
};

// Known defects, switched on by RELAY_DEFECTS=a,b (README.md says what each
// breaks and how it shows).
const defects = new Set(
  (process.env.RELAY_DEFECTS || "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);
const defect = (name) => defects.has(name);

// Lua scripts: each runs atomically, so no reader ever sees half of a
// transition (a stream entry without its state, an event both pending and
// dead-lettered, a requeued event still in the dead-letter stream).
const SCRIPTS = {
  // KEYS: events, event:<id>, stats:published  ARGV: id, kind, payload, fail_times
  publishEvent: {
    numberOfKeys: 3,
    lua: `
      local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'kind', ARGV[2],
                             'payload', ARGV[3], 'fail_times', ARGV[4])
      redis.call('HSET', KEYS[2], 'state', 'pending', 'attempts', 0, 'kind', ARGV[2],
                 'payload', ARGV[3], 'fail_times', ARGV[4], 'stream_id', sid)
      redis.call('INCR', KEYS[3])
      return sid`,
  },
  // KEYS: events, events:dead, event:<id>, stats:dead
  // ARGV: group, entry id, event id, attempts, last error
  deadLetter: {
    numberOfKeys: 4,
    lua: `
      local did = redis.call('XADD', KEYS[2], '*', 'id', ARGV[3], 'attempts', ARGV[4],
                             'last_error', ARGV[5])
      redis.call('HSET', KEYS[3], 'state', 'dead', 'dead_id', did, 'last_error', ARGV[5])
      redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
      redis.call('INCR', KEYS[4])
      return did`,
  },
  // KEYS: event:<id>, events:dead, events  ARGV: id, keep_dead ("1": the defect)
  // Returns the new stream id, or nil when the event is not dead.
  requeueEvent: {
    numberOfKeys: 3,
    lua: `
      local e = redis.call('HMGET', KEYS[1], 'state', 'dead_id', 'kind', 'payload', 'fail_times')
      if e[1] ~= 'dead' then return false end
      if ARGV[2] ~= '1' then redis.call('XDEL', KEYS[2], e[2]) end
      local sid = redis.call('XADD', KEYS[3], '*', 'id', ARGV[1], 'kind', e[3],
                             'payload', e[4], 'fail_times', e[5])
      redis.call('HSET', KEYS[1], 'state', 'pending', 'attempts', 0, 'stream_id', sid)
      redis.call('HDEL', KEYS[1], 'dead_id', 'last_error')
      return sid`,
  },
};

// One connection per process. It fails fast while Redis is away instead of
// queueing commands: the api answers 503 at once (health must never hang)
// and the worker's loop retries by itself. It reconnects for ever, at most
// a second apart, so Redis coming back is noticed quickly.
function connect(name, { commandTimeout = 2000 } = {}) {
  const redis = new Redis(process.env.REDIS_URL || "redis://127.0.0.1:6379", {
    connectionName: `relay-${name}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  for (const [cmd, { numberOfKeys, lua }] of Object.entries(SCRIPTS)) {
    redis.defineCommand(cmd, { numberOfKeys, lua });
  }
  // An outage is logged once, not on every reconnect attempt.
  let down = false;
  redis.on("error", (e) => {
    if (!down) console.error(`${name}: redis unavailable: ${e.message}`);
    down = true;
  });
  redis.on("ready", () => {
    if (down) console.log(`${name}: redis is back`);
    down = false;
  });
  return redis;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Rejects after `ms`: a Redis that accepts the connection but never answers
// (paused, partitioned) must not hold a request.
function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(data),
  });
  res.end(data);
}

const error = (res, status, code, message) => send(res, status, { error: { code, message } });

// The request body as JSON; `undefined` when it is empty or not JSON.
// Bodies are small events: anything over 64 KiB is refused.
function readJson(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(Object.assign(new Error("body too large"), { status: 413 }));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        resolve(undefined);
      }
    });
    req.on("error", reject);
  });
}

// POSTs JSON; resolves with the status, rejects on a network error or when
// no answer came within `timeoutMs`.
function postJson(url, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      timeout: timeoutMs,
    });
    req.on("response", (res) => {
      res.resume(); // the status is all the worker needs
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(data);
  });
}

// A stream entry's flat [field, value, ...] list as an object.
function fields(list) {
  const out = {};
  for (let i = 0; list && i < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

module.exports = {
  STREAM, DEAD, GROUP, MAX_ATTEMPTS, key, defect, connect, sleep, withTimeout,
  send, error, readJson, postJson, fields,
};
