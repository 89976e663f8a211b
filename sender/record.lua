-- Record a batch of outcomes of a process's senders: all of it, or (on an error) nothing.
--
-- KEYS[1] outbox     stream of messages (consumer group GROUP)
-- KEYS[2] results    stream, one entry per attempt
-- KEYS[3] delivered  bitmap: bit (seq - delivered_base) is set once message seq is settled
-- KEYS[4] meta       hash: the run's counters
-- KEYS[5] dead       stream of dead letters
-- ARGV[1] run id     the incarnation of the run the sender joined (meta's id)
-- ARGV[2] recorder   the recording process's name (its batch tag; the sender of a line
--                    that names none it can read)
-- ARGV[3] batch      this batch's id: a batch replayed after a lost reply is not written twice
-- ARGV[4] outcomes   one outcome per line, tab-separated:
--                    kind, sender, entry id, seq, attempt, duration, late, ts, extra
--                    kind: fail | ok | abandon | undeliverable | malformed
--                    extra: the latency (ok), or the reason
-- ARGV[5] compact_at settled bits that leave the bitmap at once
-- ARGV[6] partition  this partition's number, of
-- ARGV[7] partitions the run's partitions: message seq is the partition's message
--                    (seq - partition) / partitions, its bit and its count in this meta
-- Returns one flag per outcome line ('1' counted; '0' a suppressed duplicate, a late
-- settlement, or a line that names no entry); a replayed batch gets the flags of its
-- first write. Error NORUN when the run's meta is gone or belongs to another incarnation.
--
-- Whatever the input and the keys, the batch is applied whole: no write below can fail
-- (the keys are checked before the first; NOGROUP or WRONGTYPE with nothing written
-- when they are not what the run made). An outcome
-- that cannot be recorded as it is (a seq outside the run, a number that is not one, a
-- line that names no entry) is written as a dead letter with the reason instead. And
-- Redis refuses a script for lack of memory at its first write, before any side effect.

local outbox, results, delivered, meta, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local run_id, recorder, batch, compact_at = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local part, parts = tonumber(ARGV[6]) or 0, tonumber(ARGV[7]) or 1
local payload = ARGV[4]
local tag = BATCH_TAG .. recorder
if not same_run(meta, run_id) then return norun() end

-- Every write below must succeed, or none be made (Redis does not roll a script back on
-- an error): so every key is checked first. The outbox must still be a stream with the
-- senders' group (a destroyed group or a deleted outbox would fail the ack after the
-- results were written), and the other keys of the kinds written, when they exist.
local function kind(key) return redis.call('TYPE', key)['ok'] end
if kind(outbox) ~= 'stream' then
  return redis.error_reply('NOGROUP the run\'s outbox is gone')
end
local grouped = false
for _, info in ipairs(redis.call('XINFO', 'GROUPS', outbox)) do
  for i = 1, #info, 2 do
    if info[i] == 'name' and info[i + 1] == GROUP then grouped = true end
  end
end
if not grouped then
  return redis.error_reply('NOGROUP the run\'s consumer group is gone')
end
for key, wanted in pairs({[results] = 'stream', [dead] = 'stream', [delivered] = 'string'}) do
  local found = kind(key)
  if found ~= 'none' and found ~= wanted then
    return redis.error_reply('WRONGTYPE ' .. key .. ' is a ' .. found .. ', not a ' .. wanted)
  end
end
local state = redis.call('HMGET', meta, META.total, META.produced, tag, META.delivered_base)
-- The tag holds the last batch's id and its flags: 'id|flags'.
local done = batch .. '|'
if state[3] and string.sub(state[3], 1, #done) == done then
  return string.sub(state[3], #done + 1)
end
local total = tonumber(state[1]) or 0

-- Bit (seq - base) of the bitmap is set once message seq is settled: delivered, given up
-- (abandoned), or found undeliverable. Every seq below base is settled. A second
-- settlement of a message (a success after a takeover, anything after an abandonment) is
-- counted apart, never again.
local base = tonumber(state[4]) or 0
local function settle(seq)  -- 1 when it was settled already
  local offset = seq - base
  if offset < 0 then return 1 end
  return redis.call('SETBIT', delivered, offset, 1)
end

local flags, settled = {}, {}
local counts = {[META.delivered] = 0, [META.abandoned] = 0, [META.dead_letters] = 0,
                [META.undeliverable] = 0, [META.duplicates] = 0}

local function dead_letter(sender, id, seq, reason)
  counts[META.dead_letters] = counts[META.dead_letters] + 1
  redis.call('XADD', dead, '*', DEAD.id, id, DEAD.seq, seq, DEAD.sender, sender,
             DEAD.reason, reason)
end

local function result(sender, seq, attempt, ok, duration, late, ts, extra_name, extra)
  redis.call('XADD', results, '*', RESULT.seq, seq, RESULT.sender, sender,
             RESULT.attempt, attempt, RESULT.ok, ok, RESULT.duration, duration,
             RESULT.late, late, RESULT.ts, ts, extra_name, extra)
end

-- The flag of one outcome whose fields are in the senders' form (the pattern below).
local function record(kind, sender, id, seq, attempt, duration, late, ts, extra)
  local n = (tonumber(seq) - part) / parts  -- the partition's own index of the message
  if kind == 'malformed' then
    dead_letter(sender, id, seq, extra)
  elseif n >= total or n % 1 ~= 0 then
    dead_letter(sender, id, seq, 'seq ' .. seq .. ' outside the run')
  elseif tonumber(attempt) < 1 then
    dead_letter(sender, id, seq, 'invalid attempt ' .. attempt)
  elseif kind == 'fail' then
    redis.call('XADD', results, '*', RESULT.seq, seq, RESULT.sender, sender,
               RESULT.attempt, attempt, RESULT.ok, '0', RESULT.duration, duration,
               RESULT.late, late, RESULT.ts, ts)
    return '1', false
  elseif kind == 'ok' then
    local latency = tonumber(extra)
    if not latency or latency ~= latency or latency == math.huge or latency == -math.huge then
      dead_letter(sender, id, seq, 'invalid latency')
    elseif settle(n) == 1 then
      counts[META.duplicates] = counts[META.duplicates] + 1
      result(sender, seq, attempt, '1', duration, late, ts, RESULT.dup, '1')
      return '0', true
    else
      counts[META.delivered] = counts[META.delivered] + 1
      result(sender, seq, attempt, '1', duration, late, ts, RESULT.latency, extra)
    end
  else  -- abandon or undeliverable: settled, not delivered
    redis.call('XADD', dead, '*', DEAD.id, id, DEAD.seq, seq, DEAD.sender, sender,
               DEAD.reason, extra)
    if settle(n) == 1 then return '0', true end
    local field = kind == 'abandon' and META.abandoned or META.undeliverable
    counts[field] = counts[field] + 1
  end
  return '1', true
end

-- The senders' form: a known kind, a sender's name (no tab, no newline), a stream id, a
-- seq and an attempt in digits, finite
-- decimal numbers (no NaN, no infinity: they do not match). Malformed outcomes with a seq
-- that is not one (a foreign entry's) take the slow way below.
local NUMBER, SIGNED = '%d+%.?%d*', '%-?%d+%.?%d*'
local FORM = '(%a+)\t([^\t\n]+)\t(%d+%-%d+)\t(%d+)\t(%d+)\t(' .. NUMBER .. ')\t(' .. SIGNED .. ')\t(' ..
             NUMBER .. ')\t([^\n]*)'
local KINDS = {fail = true, ok = true, abandon = true, undeliverable = true, malformed = true}

local function one(kind, sender, id, seq, attempt, duration, late, ts, extra)
  if not KINDS[kind] then return nil end
  local flag, acked = record(kind, sender, id, seq, attempt, duration, late, ts, extra)
  if acked then settled[#settled + 1] = id end
  return flag
end

-- The usual batch: every line in the senders' form, one pattern scan.
for kind, sender, id, seq, attempt, duration, late, ts, extra in
    string.gmatch('\n' .. payload, '\n' .. FORM) do
  flags[#flags + 1] = one(kind, sender, id, seq, attempt, duration, late, ts, extra) or '?'
end

-- Lines not in that form, or of an unknown kind, were skipped or marked '?': only
-- when there are some, look at each line, keep the flags of those recorded above, and
-- make each other one a dead letter (acked when it names an entry). One line, one flag.
local lines, at = 0, 0
repeat
  lines = lines + 1
  at = string.find(payload, '\n', at + 1, true)
until not at
if lines ~= #flags or string.find(table.concat(flags), '?', 1, true) then
  local recorded, all = flags, {}
  local next_flag = 1
  for line in string.gmatch(payload, '[^\n]+') do
    local fields = {string.match(line, '^' .. FORM .. '$')}
    if fields[1] and KINDS[fields[1]] then
      all[#all + 1] = recorded[next_flag]
    else
      local kind, sender, id, seq =
        string.match(line, '^(%a*)\t([^\t\n]*)\t(%d+%-%d+)\t([^\t]*)\t')
      if KINDS[kind] then
        if sender == '' then sender = recorder end
        dead_letter(sender, id, seq, 'cannot record: ' .. string.sub(line, 1, 200))
        settled[#settled + 1] = id
        all[#all + 1] = '1'
      else
        dead_letter(recorder, '', '', 'unreadable outcome: ' .. string.sub(line, 1, 200))
        all[#all + 1] = '0'
      end
    end
    if fields[1] then next_flag = next_flag + 1 end
  end
  flags = all
end

-- The outbox holds messages in seq order (only the producer writes it) and is trimmed
-- only below what is settled, so every seq below its first entry's is settled: once
-- compact_at of those bits pile up, they leave the bitmap, which stays as small as the
-- backlog however many messages the run has.
local function compact()
  local first = redis.call('XRANGE', outbox, '-', '+', 'COUNT', 1)[1]
  local low = tonumber(state[2]) or 0
  if first then
    local fields = first[2]
    -- digits only: tonumber would take 'nan' and 'inf' (an entry injected by hand), and a
    -- NaN shift would fail GETRANGE after the writes above, half-applying the batch
    local digits = fields[1] == MSG.seq and string.match(fields[2], '^%d+$')
    local seq = digits and tonumber(digits)
    local index = seq and (seq - part) / parts
    if not index or index > low then return end  -- not the producer's: wait until gone
    low = index
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
