-- GET /v1/customers/{id}: a random id from BENCH_IDS (customers made by the
-- create phase).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
    return wrk.format("GET", "/v1/customers/" .. random_id())
end
