-- Record a batch of outcomes of one sender, atomically per message.
--
-- KEYS[1] outbox     stream of messages (consumer group GROUP)
-- KEYS[2] results    stream, one entry per attempt
-- KEYS[3] delivered  bitmap: bit (seq - delivered_base) is message seq's
-- KEYS[4] meta       hash: the run's counters
-- KEYS[5] dead       stream of dead letters
-- ARGV[1] sender     the sender's name
-- ARGV[2] batch      this batch's id: a batch replayed after a lost reply is not written twice
-- ARGV[3] outcomes   one outcome per line, tab-separated:
--                    kind, entry id, seq, attempt, duration, ts, extra
--                    kind: fail | ok | abandon | malformed; extra: latency (ok) or reason
-- ARGV[4] compact_at settled bits that leave the bitmap at once
-- Returns one flag per outcome ('1' counted, '0' a suppressed duplicate or late
-- abandonment); a replayed batch gets the flags of its first write. Error NORUN when the
-- run's meta is gone.

local outbox, results, delivered, meta, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sender, batch, compact_at = ARGV[1], ARGV[2], tonumber(ARGV[4])
if redis.call('EXISTS', meta) == 0 then return redis.error_reply('NORUN run meta is gone') end
local tag = BATCH_TAG .. sender
local state = redis.call('HMGET', meta, META.produced, tag, META.delivered_base)
-- The tag holds the last batch's id and its flags: 'id|flags'.
local done = batch .. '|'
if state[2] and string.sub(state[2], 1, #done) == done then
  return string.sub(state[2], #done + 1)
end

-- Bit (seq - base) of the delivered bitmap is message seq's. Every seq below base is
-- settled (delivered, or given up), so a success for one of them is a duplicate.
local base = tonumber(state[3]) or 0
local function set_delivered(seq)
  local offset = tonumber(seq) - base
  if offset < 0 then return 1 end
  return redis.call('SETBIT', delivered, offset, 1)
end
local function is_delivered(seq)
  local offset = tonumber(seq) - base
  if offset < 0 then return 1 end
  return redis.call('GETBIT', delivered, offset)
end

-- The outbox holds messages in seq order (only the producer writes it) and is trimmed
-- only below what is settled, so every seq below its first entry's is settled: once
-- compact_at of those bits pile up, they leave the bitmap, which stays as small as the
-- backlog however many messages the run has.
local function compact()
  local first = redis.call('XRANGE', outbox, '-', '+', 'COUNT', 1)[1]
  local low = tonumber(state[1]) or 0
  if first then
    local fields = first[2]
    local seq = fields[1] == MSG.seq and tonumber(fields[2])
    if not seq or seq > low then return end  -- not the producer's: wait until it is gone
    low = seq
  end
  local shift = low - base
  if shift < compact_at then return end
  shift = shift - shift % 8
  redis.call('SET', delivered, redis.call('GETRANGE', delivered, shift / 8, -1))
  redis.call('HINCRBY', meta, META.delivered_base, shift)
end

-- Acked entries leave the outbox by trimming below the oldest entry still pending, or
-- below the first unread one when nothing is pending: whole stream nodes go at once,
-- which costs far less than deleting entry by entry.
local function trim_floor(stream, name)
  local floor = redis.call('XPENDING', stream, name)[2]
  if floor then return floor end
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == name then
      local ms, seq = string.match(fields['last-delivered-id'], '^(%d+)-(%d+)$')
      return ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
  end
  return '0-0'
end

local flags, settled = {}, {}
local counts = {[META.delivered] = 0, [META.abandoned] = 0, [META.dead_letters] = 0}
local line = '(%a+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\n]*)'
for kind, id, seq, attempt, duration, ts, extra in string.gmatch(ARGV[3], line) do
  local flag = '1'
  if kind == 'fail' then
    redis.call('XADD', results, '*', RESULT.seq, seq, RESULT.sender, sender,
               RESULT.attempt, attempt, RESULT.ok, '0', RESULT.duration, duration,
               RESULT.ts, ts)
  elseif kind == 'ok' then
    if set_delivered(seq) == 1 then
      flag = '0'
      redis.call('XADD', results, '*', RESULT.seq, seq, RESULT.sender, sender,
                 RESULT.attempt, attempt, RESULT.ok, '1', RESULT.duration, duration,
                 RESULT.ts, ts, RESULT.dup, '1')
    else
      counts[META.delivered] = counts[META.delivered] + 1
      redis.call('XADD', results, '*', RESULT.seq, seq, RESULT.sender, sender,
                 RESULT.attempt, attempt, RESULT.ok, '1', RESULT.duration, duration,
                 RESULT.ts, ts, RESULT.latency, extra)
    end
  else
    if kind == 'malformed' then
      counts[META.dead_letters] = counts[META.dead_letters] + 1
    elseif is_delivered(seq) == 0 then
      counts[META.abandoned] = counts[META.abandoned] + 1
    else
      flag = '0'
    end
    redis.call('XADD', dead, '*', DEAD.id, id, DEAD.seq, seq, DEAD.sender, sender,
               DEAD.reason, extra)
  end
  if kind ~= 'fail' then settled[#settled + 1] = id end
  flags[#flags + 1] = flag
end
if #settled > 0 then
  redis.call('XACK', outbox, GROUP, unpack(settled))
  redis.call('XTRIM', outbox, 'MINID', trim_floor(outbox, GROUP))
  compact()
end
for field, n in pairs(counts) do
  if n > 0 then redis.call('HINCRBY', meta, field, n) end
end
local result = table.concat(flags)
redis.call('HSET', meta, tag, done .. result)
return result
