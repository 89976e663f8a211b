-- Reserve submission tokens from the run's fleet-wide cap (an aggregator's fixed rate
-- per account), shared by every sender of the run: a GCRA token bucket on Redis's clock.
--
-- KEYS[1] meta      hash: the run's counters and its id
-- KEYS[2] account   string: the bucket's theoretical arrival time (microseconds)
-- ARGV[1] run id    the incarnation of the run the sender joined (meta's id)
-- ARGV[2] tokens    how many submissions to reserve
-- ARGV[3] interval  microseconds between two submissions (real time)
-- ARGV[4] burst     submissions that may go at once
-- ARGV[5] ago       how long ago the first waiting submission wanted to start
--                   (microseconds): a slot's schedule runs up to a second behind real time
--                   (see sender/schedule.py), so its tokens may be that far back too
-- Returns the reserved tokens' times in order, as microseconds from now on Redis's clock
-- (negative: in the past): a sender starts one submission at each, or later. Only
-- durations cross between the clocks, so a sender whose own clock is off gets the same
-- tokens. Error NORUN when the run is gone or was reset.

if not same_run(KEYS[1], ARGV[1]) then return norun() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local n, interval = tonumber(ARGV[2]), tonumber(ARGV[3])
local tolerance = (tonumber(ARGV[4]) - 1) * interval
local earliest = now - math.min(math.max(tonumber(ARGV[5]), 0), 1000000)
local tat = tonumber(redis.call('GET', KEYS[2])) or earliest
local times = {}
for i = 1, n do
  local at = math.max(earliest, tat - tolerance)
  tat = math.max(tat, at) + interval
  times[i] = string.format('%d', at - now)
end
redis.call('SET', KEYS[2], string.format('%d', tat), 'PX', 3600000)
return times
