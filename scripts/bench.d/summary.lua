-- Shared pieces of the benchmark scripts.
--
-- setup/response: every answer is checked. An answer counts as wrong unless its status is 200 and
-- its body contains BENCH_EXPECT (a plain string, e.g. "access_token"; no body check when it is
-- unset). wrk itself only counts statuses outside 2xx, and only when a script does not look at
-- bodies, so the counts here are the ones scripts/bench reports.
--
-- done: appends one machine-readable line to the file named by BENCH_SUMMARY (key=value pairs;
-- latencies in microseconds). scripts/bench reads it.
local M = {}

local threads = {}
local expect = os.getenv("BENCH_EXPECT")
if expect == "" then expect = nil end

function M.setup(thread)
   table.insert(threads, thread)
end

-- Per-thread counters (globals of each thread's Lua state, read back in done()).
bad_status = 0
bad_body = 0

function M.response(status, headers, body)
   if status ~= 200 then
      bad_status = bad_status + 1
   elseif expect and not (body and string.find(body, expect, 1, true)) then
      bad_body = bad_body + 1
   end
end

function M.done(summary, latency, requests)
   local path = os.getenv("BENCH_SUMMARY")
   if not path or path == "" then return end
   local wrong_status, wrong_body = 0, 0
   for _, t in ipairs(threads) do
      wrong_status = wrong_status + (t:get("bad_status") or 0)
      wrong_body = wrong_body + (t:get("bad_body") or 0)
   end
   local e = summary.errors
   local f = assert(io.open(path, "a"))
   f:write(string.format(
      "requests=%d duration_us=%d bytes=%d non2xx=%d connect=%d read=%d write=%d timeout=%d "
      .. "bad_status=%d bad_body=%d p50=%d p90=%d p99=%d p999=%d max=%d mean=%.1f\n",
      summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
      wrong_status, wrong_body,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
   f:close()
end

return M
