// The worker: consumer group `relay` on the stream `events`. Every entry is
// POSTed to the sink and acknowledged only after the sink took it
// (at-least-once). A failed delivery stays in the group's pending entries
// list (PEL) and is retried from there; after MAX_ATTEMPTS failures it is
// moved to `events:dead`.
"use strict";

const os = require("node:os");
const {
  STREAM, DEAD, GROUP, MAX_ATTEMPTS, key, defect, connect, sleep, postJson, fields,
} = require("./shared");

const SINK_URL = process.env.SINK_URL || "http://127.0.0.1:3001/deliver";
const SINK_TIMEOUT_MS = Number(process.env.SINK_TIMEOUT_MS || 10000) + Number(process.env.SINK_DELAY_MS || 0);
// Before the second attempt; each later one waits 4 times longer (250 ms,
// then 1 s), so a downstream restarting for a second is not dead-lettered.
const RETRY_DELAY_MS = Number(process.env.RETRY_DELAY_MS || 250);
// Another consumer's entry idle this long is taken over: its owner died.
const CLAIM_IDLE_MS = Number(process.env.CLAIM_IDLE_MS || 5000);
const RECLAIM_EVERY_MS = 2000;
// A stable name: a restarted worker (PM2 brings it back in the same
// container) finds what its previous incarnation left pending under it.
const CONSUMER = process.env.CONSUMER || `worker-${os.hostname()}`;

// Longer than the longest BLOCK below, so a blocking read never times out.
const redis = connect("worker", { commandTimeout: 5000 });
// Failed deliveries of this incarnation, by entry id: when to try again.
const retryAt = new Map();

async function ensureGroup() {
  try {
    await redis.xgroup("CREATE", STREAM, GROUP, "0", "MKSTREAM");
  } catch (e) {
    if (!/BUSYGROUP/.test(e.message)) throw e;
  }
}

// This consumer's own pending entries that are due: its failed deliveries
// after their delay, and at once whatever a previous incarnation (killed
// mid-delivery) left unacknowledged.
async function ownPending() {
  const reply = await redis.xreadgroup("GROUP", GROUP, CONSUMER, "COUNT", 100, "STREAMS", STREAM, "0");
  const now = Date.now();
  return (reply ? reply[0][1] : []).filter(([id]) => {
    // Defect: only failures this incarnation saw are retried; what a
    // previous incarnation had in flight stays pending for ever.
    if (defect("no_pending_reclaim") && !retryAt.has(id)) return false;
    return (retryAt.get(id) || 0) <= now;
  });
}

// Entries another consumer took and never acknowledged (it died, or was
// renamed): taken over once idle for CLAIM_IDLE_MS.
async function reclaimIdle() {
  const [, entries] = await redis.xautoclaim(STREAM, GROUP, CONSUMER, CLAIM_IDLE_MS, "0-0", "COUNT", 50);
  // Our own failures waiting for their retry are not "idle work".
  return entries.filter((entry) => entry && !retryAt.has(entry[0]));
}

async function handle(entryId, list) {
  if (!list) {
    // The entry was deleted from the stream while pending: nothing to deliver.
    await redis.xack(STREAM, GROUP, entryId);
    return;
  }
  const event = fields(list);
  const hash = key.event(event.id);
  // Defect: acknowledged before the sink has it. The PEL forgets the entry,
  // so a failed delivery is never retried and a crash loses it.
  if (defect("ack_before_delivery")) await redis.xack(STREAM, GROUP, entryId);

  const attempts = await redis.hincrby(hash, "attempts", 1);
  let failure = null;
  // A slow event may ask the sink for a longer delay: wait that long too.
  const delayMs = Number(event.delay_ms || 0);
  try {
    const status = await postJson(
      SINK_URL,
      { id: event.id, kind: event.kind, payload: JSON.parse(event.payload || "null"),
        fail_times: Number(event.fail_times || 0), delay_ms: delayMs, attempt: attempts },
      SINK_TIMEOUT_MS + delayMs,
    );
    if (status < 200 || status > 299) failure = `sink answered ${status}`;
  } catch (e) {
    failure = `sink unreachable: ${e.message}`;
  }

  if (!failure) {
    // Acknowledged only now: until here a crash leaves the entry pending,
    // and it is delivered again (at least once, possibly twice).
    await redis.multi()
      .hset(hash, "state", "delivered").hdel(hash, "last_error")
      .incr(key.delivered)
      .xack(STREAM, GROUP, entryId)
      .exec();
    retryAt.delete(entryId);
    return;
  }
  // Defect: one attempt too many before giving up (off by one at the limit).
  const limit = defect("dead_letter_late") ? MAX_ATTEMPTS + 1 : MAX_ATTEMPTS;
  if (attempts >= limit) {
    await redis.deadLetter(STREAM, DEAD, hash, key.deadLettered, GROUP, entryId, event.id, attempts, failure);
    retryAt.delete(entryId);
    console.log(`worker: ${event.id} dead-lettered after ${attempts} attempts: ${failure}`);
    return;
  }
  await redis.hset(hash, "last_error", failure);
  retryAt.set(entryId, Date.now() + RETRY_DELAY_MS * 4 ** (attempts - 1));
}

async function run() {
  console.log(`worker ${CONSUMER} starting; defects: ${process.env.RELAY_DEFECTS || "none"}`);
  let groupReady = false;
  let lastReclaim = 0;
  let lastError = "";
  for (;;) {
    if (redis.status !== "ready") {
      // Connecting or reconnecting: shared.js logs the outage once.
      await sleep(200);
      continue;
    }
    try {
      if (!groupReady) {
        await ensureGroup();
        groupReady = true;
      }
      for (const [id, list] of await ownPending()) await handle(id, list);
      // Defect no_pending_reclaim: never takes over other consumers' entries.
      if (!defect("no_pending_reclaim") && Date.now() - lastReclaim >= RECLAIM_EVERY_MS) {
        lastReclaim = Date.now();
        for (const [id, list] of await reclaimIdle()) await handle(id, list);
      }
      // New entries; a short wait while retries are due soon.
      const block = retryAt.size > 0 ? RETRY_DELAY_MS : 1000;
      const reply = await redis.xreadgroup(
        "GROUP", GROUP, CONSUMER, "COUNT", 10, "BLOCK", block, "STREAMS", STREAM, ">",
      );
      for (const [id, list] of reply ? reply[0][1] : []) await handle(id, list);
      lastError = "";
    } catch (e) {
      // Redis away, restarted without its data (NOGROUP) or too slow: keep
      // going. Crashing would only make PM2 restart us into the same outage.
      if (/NOGROUP/.test(e.message)) groupReady = false;
      if (e.message !== lastError) console.error(`worker: ${e.message}; retrying`);
      lastError = e.message;
      await sleep(500);
    }
  }
}

run();
