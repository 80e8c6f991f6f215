-- Shared done() for the benchmark scripts: appends one machine-readable line to the file named
-- by BENCH_SUMMARY (key=value pairs; latencies in microseconds). scripts/bench reads it.
local M = {}

function M.done(summary, latency, requests)
   local path = os.getenv("BENCH_SUMMARY")
   if not path or path == "" then return end
   local e = summary.errors
   local f = assert(io.open(path, "a"))
   f:write(string.format(
      "requests=%d duration_us=%d bytes=%d non2xx=%d connect=%d read=%d write=%d timeout=%d "
      .. "p50=%d p90=%d p99=%d p999=%d max=%d mean=%.1f\n",
      summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
   f:close()
end

return M
