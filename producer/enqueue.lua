-- Enqueue one batch of messages and advance the run's produced count, atomically: a
-- producer killed mid-batch leaves either the whole batch or none of it. A stale start
-- (another producer got there first, or this batch was written before a lost reply) is
-- refused, so no seq is ever written twice.
--
-- KEYS[1] outbox    stream of messages
-- KEYS[2] meta      hash: the run's counters
-- ARGV[1] run id    the incarnation of the run the producer opened (meta's id)
-- ARGV[2] start     seq of the batch's first message (must equal meta's produced)
-- ARGV[3] created   epoch seconds, the same for the whole batch
-- ARGV[4] payload   phone number and body lines alternating (bodies hold no newline)
-- ARGV[5] partition this partition's number, of
-- ARGV[6] partitions the run's partitions: the message at local index i has seq
--                   i * partitions + partition (a run of one partition: seq i)
-- Returns the new produced count; errors NORUN (meta gone, or another incarnation),
-- STALE produced=<n>, NOGROUP (messages were enqueued, and the outbox is gone: deleted
-- or evicted; it is not made again, empty, as if nothing had been lost).

if not same_run(KEYS[2], ARGV[1]) then return norun() end
local start = tonumber(ARGV[2])
local produced = tonumber(redis.call('HGET', KEYS[2], META.produced))
if produced ~= start then return redis.error_reply('STALE produced=' .. produced) end
if produced > 0 and redis.call('TYPE', KEYS[1])['ok'] ~= 'stream' then
  return redis.error_reply('NOGROUP the run\'s outbox is gone')
end
local part, parts = tonumber(ARGV[5]), tonumber(ARGV[6])
local index, to = start, nil
for line in string.gmatch(ARGV[4], '[^\n]+') do
  if to == nil then
    to = line
  else
    redis.call('XADD', KEYS[1], '*', MSG.seq, string.format('%d', index * parts + part),
               MSG.to, to, MSG.body, line, MSG.created, ARGV[3])
    index = index + 1
    to = nil
  end
end
redis.call('HSET', KEYS[2], META.produced, index)
return index
