-- PATCH /v1/customers/{id}: changes the private note of a random customer
-- from BENCH_IDS (unconditional: no If-Match).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
    counter = counter + 1
    local body = string.format(
        '{"description":"Wizyta nr %d (wątek %d): przełożona na czwartek, 15:30. Prefiere SMS."}',
        counter, tid)
    return wrk.format("PATCH", "/v1/customers/" .. random_id(), json_headers, body)
end
