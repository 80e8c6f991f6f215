-- One fixed request, repeated on every keep-alive connection (scenarios a, c, d, e).
-- BENCH_METHOD, BENCH_BODY (form body, POST only), BENCH_AUTHORIZATION and BENCH_EXPECT (what
-- every answer's body must contain) come from scripts/bench.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local summary = require("summary")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
   wrk.body = body
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then wrk.headers["Authorization"] = authorization end
wrk.headers["Accept"] = "application/json"

setup = summary.setup
response = summary.response
done = summary.done
