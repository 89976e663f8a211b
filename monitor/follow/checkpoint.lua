-- Save a monitor's totals as the run's shared checkpoint, if they reach further than the
-- one saved (any number of monitors may follow a run; the one furthest ahead saves), and
-- drop the results they include.
--
-- KEYS[1] meta        hash: the run's counters and its id
-- KEYS[2] checkpoint  hash: run_id, last_id (the last result included), stats (JSON)
-- KEYS[3] results     stream of results
-- ARGV[1] run id      the incarnation the monitor follows (meta's id)
-- ARGV[2] last_id     the last result these totals include
-- ARGV[3] stats       the totals, JSON
-- ARGV[4] trim        '1': trim the results below last_id
-- Returns 1 when saved, 0 when the saved checkpoint reaches as far already; error NORUN
-- when the run is gone or was reset (a stale monitor never writes into a new run).
--
-- The trim comes first: it frees memory, and a script that has written once is not
-- refused for lack of memory afterwards, so a full Redis can still be relieved.

if not same_run(KEYS[1], ARGV[1]) then return norun() end
local function after(a, b)  -- stream id a comes after b
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not bm then return true end
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am > bm end
  return tonumber(as) > tonumber(bs)
end
local saved = redis.call('HMGET', KEYS[2], 'run_id', 'last_id')
if saved[1] == ARGV[1] and saved[2] and not after(ARGV[2], saved[2]) then return 0 end
if ARGV[4] == '1' then redis.call('XTRIM', KEYS[3], 'MINID', ARGV[2]) end
redis.call('HSET', KEYS[2], 'run_id', ARGV[1], 'last_id', ARGV[2], 'stats', ARGV[3])
return 1
