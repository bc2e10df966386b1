-- GET /v1/customers?pageSize=50&orderBy=lastName: the first page, sorted by
-- last name (the service also counts the tenant's customers for totalSize).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
    return wrk.format("GET", "/v1/customers?pageSize=50&orderBy=lastName")
end
