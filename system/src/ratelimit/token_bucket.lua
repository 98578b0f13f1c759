-- Token bucket, updated atomically (one script call per request).
-- KEYS[1]  bucket key (a hash with fields tokens, ts)
-- ARGV[1]  capacity (tokens), ARGV[2] refill window in ms (capacity tokens
--          are refilled per window, continuously)
-- Returns {allowed 0|1, remaining whole tokens, retry_after_ms}.
-- Time comes from the Redis server, so every api instance sees one clock.
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = capacity / window_ms
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
end
local allowed = 0
local retry_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_ms = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', key, window_ms + 1000)
return {allowed, math.floor(tokens), retry_ms}
