// The api (port 3000): accepts events onto the stream, tells their state,
// lists and requeues dead letters. README.md has the contract.
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const {
  STREAM, DEAD, GROUP, key, defect, connect, sleep, withTimeout, send, error, readJson, fields,
} = require("./shared");

const PORT = Number(process.env.API_PORT || 3000);
const TOKEN = process.env.RELAY_TOKEN || "";
const redis = connect("api");

// Ids go into Redis keys and URL paths: any printable text without
// whitespace or URL delimiters, at most 200 characters.
const ID = /^[^\s/?#%]{1,200}$/;

// The first publish of an id claims it. SET NX is one atomic step, so of N
// concurrent publishes of one id exactly one wins.
async function claim(id) {
  if (defect("duplicate_check_racy")) {
    // Defect: look, then leap. Every request that looks before the first
    // one has written sees the id as new (the pause stands for real work
    // between the check and the write, and makes the race reproducible).
    if (await redis.exists(key.seen(id))) return false;
    await sleep(50);
    await redis.set(key.seen(id), "1");
    return true;
  }
  return (await redis.set(key.seen(id), "1", "NX")) === "OK";
}

async function publish(req, res) {
  const body = await readJson(req);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return error(res, 400, "invalid_json", "the body must be a JSON object");
  }
  const { id, kind, payload = null, fail_times: failTimes = 0 } = body;
  if (typeof id !== "string" || !ID.test(id)) {
    return error(res, 400, "invalid_id", "`id` must be a string of 1 to 200 characters without whitespace, /, ?, # or %");
  }
  if (typeof kind !== "string" || kind.length === 0 || kind.length > 100) {
    return error(res, 400, "invalid_kind", "`kind` must be a string of 1 to 100 characters");
  }
  if (!Number.isInteger(failTimes) || failTimes < 0 || failTimes > 100) {
    return error(res, 400, "invalid_fail_times", "`fail_times` must be an integer from 0 to 100");
  }
  if (!(await claim(id))) {
    return error(res, 409, "duplicate", `event ${id} was already accepted`);
  }
  try {
    const streamId = await redis.publishEvent(
      STREAM, key.event(id), key.published, id, kind, JSON.stringify(payload), String(failTimes),
    );
    send(res, 202, { accepted: true, id, stream_id: streamId });
  } catch (e) {
    // Not published: give the id back so the client's retry is not a 409.
    await redis.del(key.seen(id)).catch(() => {});
    throw e;
  }
}

async function eventState(res, id) {
  const e = await redis.hgetall(key.event(id));
  if (!e.state) return error(res, 404, "not_found", `no event ${id}`);
  send(res, 200, { id, state: e.state, attempts: Number(e.attempts || 0), last_error: e.last_error || null });
}

async function deadLetters(res, onlyId) {
  const entries = (await redis.xrange(DEAD, "-", "+", "COUNT", 1000))
    .map(([deadId, list]) => {
      const f = fields(list);
      return { id: f.id, attempts: Number(f.attempts), last_error: f.last_error, dead_id: deadId };
    })
    .filter((e) => onlyId === null || e.id === onlyId);
  send(res, 200, { count: entries.length, ids: entries.map((e) => e.id), events: entries });
}

function authorized(req) {
  const given = Buffer.from(String(req.headers["x-token"] || ""));
  const wanted = Buffer.from(TOKEN);
  // No token configured: nobody may requeue.
  return TOKEN !== "" && given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}

async function requeue(req, res, id) {
  if (!authorized(req)) return error(res, 401, "unauthorized", "requeue needs the x-token header");
  // Defect: the event is re-published but its dead letter is left behind.
  const keepDead = defect("requeue_keeps_dead") ? "1" : "0";
  const streamId = await redis.requeueEvent(key.event(id), DEAD, STREAM, id, keepDead);
  if (!streamId) return error(res, 404, "not_dead", `event ${id} is not dead-lettered`);
  send(res, 202, { requeued: true, id, stream_id: streamId });
}

async function stats(res) {
  const pending = redis.xpending(STREAM, GROUP).then(
    ([count]) => Number(count),
    (e) => (/NOGROUP/.test(e.message) ? 0 : Promise.reject(e)), // the worker has not started yet
  );
  const [published, delivered, streamLength, dead, pendingCount] = await Promise.all([
    redis.get(key.published), redis.get(key.delivered), redis.xlen(STREAM), redis.xlen(DEAD), pending,
  ]);
  send(res, 200, {
    published: Number(published || 0),
    delivered: Number(delivered || 0),
    dead,
    stream_length: streamLength,
    pending: pendingCount,
  });
}

async function health(res) {
  try {
    await withTimeout(redis.ping(), 1000);
    send(res, 200, { status: "ok", redis: "ok" });
  } catch {
    send(res, 503, { status: "down", redis: "down" });
  }
}

async function route(req, res) {
  const url = new URL(req.url, "http://api");
  const path = url.pathname;
  const m = (re) => path.match(re);
  let p;
  if (req.method === "GET" && path === "/health") return health(res);
  if (req.method === "POST" && path === "/events") return publish(req, res);
  if (req.method === "GET" && (p = m(/^\/events\/([^/]+)$/))) return eventState(res, decodeURIComponent(p[1]));
  if (req.method === "GET" && path === "/dead") return deadLetters(res, url.searchParams.get("id"));
  if (req.method === "POST" && (p = m(/^\/dead\/([^/]+)\/requeue$/))) return requeue(req, res, decodeURIComponent(p[1]));
  if (req.method === "GET" && path === "/stats") return stats(res);
  error(res, 404, "not_found", `no route ${req.method} ${path}`);
}

http
  .createServer((req, res) => {
    route(req, res).catch((e) => {
      if (res.headersSent) return res.destroy();
      if (e.status === 413) return error(res, 413, "too_large", "the body is over 64 KiB");
      if (e instanceof URIError) return error(res, 400, "invalid_path", "the path is not valid percent-encoding");
      // Anything else here is Redis being away or too slow.
      error(res, 503, "unavailable", `redis: ${e.message}`);
    });
  })
  .listen(PORT, () => console.log(`api listening on ${PORT}; defects: ${process.env.RELAY_DEFECTS || "none"}`));
