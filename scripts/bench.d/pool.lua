-- Token requests whose bodies come from a pre-generated file, one line per request, each line used
-- exactly once (scenario b: every client assertion has its own jti, and the server refuses a
-- replayed jti). With several wrk threads, thread k of n takes lines k, k+n, k+2n, ...
-- BENCH_POOL names the file. When a thread runs out of lines it stops (and says so on stderr),
-- so a replay can never be measured by accident. Answers are checked as in summary.lua.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local summary = require("summary")

local threads = {}
local counter = 0

function setup(thread)
   thread:set("index", counter)
   counter = counter + 1
   table.insert(threads, thread)
   summary.setup(thread)
end

response = summary.response

local lines, stride, skip

function init(args)
   stride = tonumber(os.getenv("BENCH_THREADS") or "1")
   local f = assert(io.open(os.getenv("BENCH_POOL"), "r"))
   lines = f:lines()
   -- Skip to this thread's first line.
   for _ = 1, index do lines() end
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.headers["Accept"] = "application/json"
end

used = 0
exhausted = 0

function request()
   local line = lines()
   for _ = 2, stride do lines() end
   if not line then
      if exhausted == 0 then io.stderr:write("pool.lua: assertion pool exhausted, stopping\n") end
      exhausted = 1
      wrk.thread:stop()
      -- Something must be returned; a GET the server answers cheaply, never a replayed assertion.
      return wrk.format("GET", "/jwks")
   end
   used = used + 1
   return wrk.format(nil, nil, nil, line)
end

function done(s, latency, requests)
   local total, dry = 0, 0
   for _, t in ipairs(threads) do
      total = total + (t:get("used") or 0)
      dry = dry + (t:get("exhausted") or 0)
   end
   local path = os.getenv("BENCH_SUMMARY")
   summary.done(s, latency, requests)
   if path and path ~= "" then
      local f = assert(io.open(path, "a"))
      f:write(string.format("pool_used=%d pool_exhausted=%d\n", total, dry))
      f:close()
   end
end
