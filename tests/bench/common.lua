-- Shared by the wrk scripts of tests/bench/run.sh (loaded with dofile).
--
-- Environment (read in every wrk Lua state):
--   BENCH_API_KEY   the bearer key
--   BENCH_IDS       a file of customer ids, one a line (get and patch)
-- Script arguments (after "--" on the wrk command line):
--   1: a tag that makes e-mail addresses unique across runs and phases
--
-- Every thread numbers itself (setup) and counts its requests and its
-- answers that are not 2xx (response). done() prints one line that run.sh
-- parses:
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B mean_ms=C max_ms=D
--         non2xx=E sock_errors=F timeouts=G
-- followed by "BENCH_ERROR ..." lines with the first failed answer of each
-- thread that had one.

local key = os.getenv("BENCH_API_KEY") or ""
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Accept"] = "application/json"

-- The headers of a request with a JSON body. wrk.format uses the headers it
-- is given instead of wrk.headers, so they carry the key too.
json_headers = {
    ["Authorization"] = wrk.headers["Authorization"],
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/json",
}

-- Main state: the threads, so done() can collect their counters.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

-- Thread state.
counter = 0
non2xx = 0
first_error = nil
ids = {}
tag = "run"

function init(args)
    tag = args[1] or tag
    math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
    local path = os.getenv("BENCH_IDS")
    if path and path ~= "" then
        local f = io.open(path, "r")
        if f then
            for line in f:lines() do
                if line ~= "" then
                    ids[#ids + 1] = line
                end
            end
            f:close()
        end
        if #ids == 0 then
            io.stderr:write("bench: no ids in " .. path .. "\n")
            os.exit(2)
        end
    end
end

-- A random id from BENCH_IDS.
function random_id()
    return ids[math.random(#ids)]
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if not first_error then
            first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
        end
    end
end

function done(summary, latency, requests)
    local bad, errors = 0, {}
    for _, t in ipairs(threads) do
        bad = bad + (t:get("non2xx") or 0)
        local e = t:get("first_error")
        if e then
            errors[#errors + 1] = string.format("BENCH_ERROR thread=%d %s", t:get("tid"), e)
        end
    end
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f "
            .. "max_ms=%.3f non2xx=%d sock_errors=%d timeouts=%d\n",
        summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000, bad,
        e.connect + e.read + e.write, e.timeout))
    for _, line in ipairs(errors) do
        io.write((line:gsub("[\r\n]", " ")), "\n")
    end
end
