-- One fixed request, repeated on every keep-alive connection (scenarios a, c, d, e).
-- BENCH_METHOD, BENCH_BODY (form body, POST only), BENCH_AUTHORIZATION, BENCH_EXPECT (what
-- every answer's body must contain) and BENCH_CHECK come from scripts/bench.
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
-- BENCH_CHECK=length (scenario e): no response() callback, which would cost wrk more than the
-- cheapest servers spend on a request; scripts/bench then checks that every answer had exactly
-- the length of the one it checked with curl (wrk still counts statuses of 400 and above).
if os.getenv("BENCH_CHECK") ~= "length" then response = summary.response end
done = summary.done
