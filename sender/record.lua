-- Record a batch of outcomes of one sender: all of it, or (on an error) nothing.
--
-- KEYS[1] outbox     stream of messages (consumer group GROUP)
-- KEYS[2] results    stream, one entry per attempt
-- KEYS[3] delivered  bitmap: bit (seq - delivered_base) is message seq's
-- KEYS[4] meta       hash: the run's counters
-- KEYS[5] dead       stream of dead letters
-- ARGV[1] run id     the incarnation of the run the sender joined (meta's id)
-- ARGV[2] sender     the sender's name
-- ARGV[3] batch      this batch's id: a batch replayed after a lost reply is not written twice
-- ARGV[4] outcomes   one outcome per line, tab-separated:
--                    kind, entry id, seq, attempt, duration, late, ts, extra
--                    kind: fail | ok | abandon | malformed; extra: latency (ok) or reason
-- ARGV[5] compact_at settled bits that leave the bitmap at once
-- Returns one flag per outcome line ('1' counted; '0' a suppressed duplicate, a late
-- abandonment, or a line that could not be read); a replayed batch gets the flags of its
-- first write. Error NORUN when the run's meta is gone or belongs to another incarnation.
--
-- Every outcome is checked before the first write: one that cannot be recorded as it is
-- (a seq outside the run, a number that is not one) becomes a dead letter with the reason,
-- so nothing after the checks can fail and the batch is applied whole. Redis refuses a
-- script at its first write when out of memory, before any side effect.

local outbox, results, delivered, meta, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local run_id, sender, batch, compact_at = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local tag = BATCH_TAG .. sender
if not same_run(meta, run_id) then return norun() end
local state = redis.call('HMGET', meta, META.id, META.total, META.produced, tag,
                         META.delivered_base)
-- The tag holds the last batch's id and its flags: 'id|flags'.
local done = batch .. '|'
if state[4] and string.sub(state[4], 1, #done) == done then
  return string.sub(state[4], #done + 1)
end
local total = tonumber(state[2]) or 0

-- Checks ------------------------------------------------------------------------------
local function finite(text)
  local x = tonumber(text)
  if x and x == x and x ~= math.huge and x ~= -math.huge then return x end
end
local function whole(text)  -- a non-negative integer in plain digits
  if #text <= 15 and string.match(text, '^%d+$') then return tonumber(text) end
end
local KINDS = {fail = true, ok = true, abandon = true, malformed = true}
local LINE = '^(%a+)\t(%d+%-%d+)' .. string.rep('\t([^\t]*)', 6) .. '$'

-- An outcome as it will be recorded: {kind, id, seq, attempt, duration, late, ts, extra}
-- 'bad' for a line that names no entry, 'malformed' (a dead letter, extra the reason)
-- for one that cannot be recorded as it is.
local function check(line)
  local o = {string.match(line, LINE)}
  local kind, seq_text = o[1], o[3]
  if not KINDS[kind] then
    return {'bad', '', '', '', '', '', '', 'unreadable outcome: ' .. string.sub(line, 1, 200)}
  end
  if kind == 'malformed' then return o end
  local seq, problem = whole(seq_text), nil
  if not seq or seq >= total then
    problem = 'seq ' .. seq_text .. ' outside the run (0..' .. (total - 1) .. ')'
  elseif not whole(o[4]) or tonumber(o[4]) < 1 then
    problem = 'invalid attempt ' .. o[4]
  elseif kind ~= 'abandon' then
    local duration = finite(o[5])
    if not (duration and duration >= 0 and finite(o[6]) and finite(o[7])) then
      problem = 'invalid duration or time'
    elseif kind == 'ok' and not finite(o[8]) then
      problem = 'invalid latency'
    end
  end
  if problem then o[1], o[8] = 'malformed', problem end
  return o
end

local outcomes = {}
for line in string.gmatch(ARGV[4], '[^\n]+') do outcomes[#outcomes + 1] = check(line) end

-- Writes ------------------------------------------------------------------------------
-- Bit (seq - base) of the delivered bitmap is set once message seq is settled: delivered,
-- or given up (abandoned). Every seq below base is settled. A second settlement of a
-- message (a success after a takeover, a success or abandonment after an abandonment) is
-- counted apart, never again as delivered or abandoned.
local base = tonumber(state[5]) or 0
local function settle(seq)  -- 1 when it was settled already
  local offset = tonumber(seq) - base
  if offset < 0 then return 1 end
  return redis.call('SETBIT', delivered, offset, 1)
end

-- The outbox holds messages in seq order (only the producer writes it) and is trimmed
-- only below what is settled, so every seq below its first entry's is settled: once
-- compact_at of those bits pile up, they leave the bitmap, which stays as small as the
-- backlog however many messages the run has.
local function compact()
  local first = redis.call('XRANGE', outbox, '-', '+', 'COUNT', 1)[1]
  local low = tonumber(state[3]) or 0
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

local function result(o, ok, extra_name, extra)
  redis.call('XADD', results, '*', RESULT.seq, o[3], RESULT.sender, sender,
             RESULT.attempt, o[4], RESULT.ok, ok, RESULT.duration, o[5], RESULT.late, o[6],
             RESULT.ts, o[7], extra_name, extra)
end

local flags, settled = {}, {}
local counts = {[META.delivered] = 0, [META.abandoned] = 0, [META.dead_letters] = 0}
for _, o in ipairs(outcomes) do
  local kind, flag = o[1], '1'
  if kind == 'fail' then
    redis.call('XADD', results, '*', RESULT.seq, o[3], RESULT.sender, sender,
               RESULT.attempt, o[4], RESULT.ok, '0', RESULT.duration, o[5], RESULT.late, o[6],
               RESULT.ts, o[7])
  elseif kind == 'ok' then
    if settle(o[3]) == 1 then
      flag = '0'
      result(o, '1', RESULT.dup, '1')
    else
      counts[META.delivered] = counts[META.delivered] + 1
      result(o, '1', RESULT.latency, o[8])
    end
  else
    if kind == 'abandon' and settle(o[3]) == 1 then
      flag = '0'
    elseif kind == 'abandon' then
      counts[META.abandoned] = counts[META.abandoned] + 1
    else  -- malformed, or bad
      counts[META.dead_letters] = counts[META.dead_letters] + 1
      if kind == 'bad' then flag = '0' end
    end
    redis.call('XADD', dead, '*', DEAD.id, o[2], DEAD.seq, o[3], DEAD.sender, sender,
               DEAD.reason, o[8])
  end
  if kind ~= 'fail' and kind ~= 'bad' then settled[#settled + 1] = o[2] end
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
local answer = table.concat(flags)
redis.call('HSET', meta, tag, done .. answer)
return answer
