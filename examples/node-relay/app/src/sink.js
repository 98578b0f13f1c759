// The sink (port 3001): the downstream the worker delivers to. It records
// every event it accepted, so journeys can see what arrived and how often,
// and it misbehaves on request: `fail_times: N` makes the first N
// deliveries of that id fail, kind `poison` always fails, kind `slow` takes
// its `delay_ms` (or SINK_SLOW_MS) to answer.
"use strict";

const http = require("node:http");
const { connect, sleep, withTimeout, send, error, readJson } = require("./shared");

const PORT = Number(process.env.SINK_PORT || 3001);
// A slow downstream (every event, or only kind `slow`), so a test or a
// chaos experiment can kill the worker while a delivery is in flight.
const DELAY_MS = Number(process.env.SINK_DELAY_MS || 0);
const SLOW_MS = Number(process.env.SINK_SLOW_MS || 3000);
const redis = connect("sink");

const RECEIVED = "sink:received"; // set of ids delivered at least once
const TRIES = "sink:attempts"; // hash: id -> deliveries tried (failed ones too)
const DELIVERIES = "sink:deliveries"; // hash: id -> deliveries accepted (more than 1: a duplicate)

async function deliver(req, res) {
  const event = await readJson(req);
  if (!event || typeof event.id !== "string") return error(res, 400, "invalid_event", "an event needs an `id`");
  // A worker that hung up while we waited (it died, or timed out) cannot
  // learn that the delivery worked, so it is not taken: only the worker's
  // retry can deliver it. That keeps "lost" and "delivered" apart.
  let hungUp = false;
  res.on("close", () => {
    hungUp = !res.writableEnded;
  });
  const delay = event.kind === "slow" ? Number(event.delay_ms) || SLOW_MS : DELAY_MS;
  if (delay > 0) await sleep(delay);
  if (hungUp) return;
  const tries = await redis.hincrby(TRIES, event.id, 1);
  if (event.kind === "poison") return error(res, 500, "poison", "poison events are always refused");
  const failTimes = Number(event.fail_times || 0);
  if (tries <= failTimes) {
    return error(res, 500, "failing_on_purpose", `delivery ${tries} of ${event.id} fails (fail_times ${failTimes})`);
  }
  const [, [, deliveries]] = await redis.multi().sadd(RECEIVED, event.id).hincrby(DELIVERIES, event.id, 1).exec();
  send(res, 200, { received: true, id: event.id, deliveries });
}

async function route(req, res) {
  const path = new URL(req.url, "http://sink").pathname;
  let p;
  if (req.method === "POST" && path === "/deliver") return deliver(req, res);
  if (req.method === "GET" && path === "/received") {
    const ids = await redis.smembers(RECEIVED);
    return send(res, 200, { ids, count: ids.length });
  }
  if (req.method === "GET" && (p = path.match(/^\/received\/([^/]+)$/))) {
    const id = decodeURIComponent(p[1]);
    const [tries, deliveries] = await Promise.all([redis.hget(TRIES, id), redis.hget(DELIVERIES, id)]);
    if (!tries) return error(res, 404, "not_found", `no delivery of ${id} was tried`);
    return send(res, 200, { id, attempts: Number(tries), deliveries: Number(deliveries || 0) });
  }
  if (req.method === "GET" && path === "/health") {
    await withTimeout(redis.ping(), 1000);
    return send(res, 200, { status: "ok", redis: "ok" });
  }
  error(res, 404, "not_found", `no route ${req.method} ${path}`);
}

http
  .createServer((req, res) => {
    route(req, res).catch((e) => {
      if (res.headersSent) return res.destroy();
      if (e.status === 413) return error(res, 413, "too_large", "the body is over 64 KiB");
      if (e instanceof URIError) return error(res, 400, "invalid_path", "the path is not valid percent-encoding");
      error(res, 503, "unavailable", `redis: ${e.message}`);
    });
  })
  .listen(PORT, () => console.log(`sink listening on ${PORT}; delay ${DELAY_MS} ms`));
