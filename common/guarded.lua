-- One write, made only while the run is still the incarnation the caller joined: a role
-- never writes state for a run that was reset (or lost with a Redis restart) and created
-- again under the same name.
--
-- KEYS[1] meta      hash: the run's counters and its id
-- KEYS[2] target    the key written
-- ARGV[1] run id    the incarnation the caller joined (meta's id)
-- ARGV[2] command   HSET or HINCRBY
-- ARGV[3...]        the command's arguments after the key
-- Returns the command's reply; error NORUN when the run is gone or was reset.

if not same_run(KEYS[1], ARGV[1]) then return norun() end
local command = ARGV[2]
if command ~= 'HSET' and command ~= 'HINCRBY' then
  return redis.error_reply('ERR guarded.lua writes with HSET or HINCRBY only')
end
return redis.call(command, KEYS[2], unpack(ARGV, 3))
