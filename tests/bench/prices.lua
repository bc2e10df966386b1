-- POST /v1/prices:quote for tests/bench/prices.sh (loaded by wrk; common.lua
-- does the key, the counters and the BENCH line): a random customer of
-- BENCH_IDS and a cart of five lines, two in a category some rules name and
-- one a product some rules name.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
    local body = '{"customerId":"' .. random_id() .. '","lines":['
        .. '{"productCode":"SKU-' .. math.random(1, 50) .. '","categoryCode":"cat-'
        .. math.random(0, 9) .. '","quantity":2,"unitPriceMinor":"19999"},'
        .. '{"productCode":"SKU-' .. math.random(1, 50) .. '","categoryCode":"cat-'
        .. math.random(0, 9) .. '","quantity":1,"unitPriceMinor":"4999"},'
        .. '{"productCode":"SKU-' .. math.random(51, 100) .. '","quantity":3,"unitPriceMinor":"999"},'
        .. '{"productCode":"SKU-' .. math.random(101, 200) .. '","quantity":1,"unitPriceMinor":"12345"},'
        .. '{"productCode":"GIFT","quantity":1,"unitPriceMinor":"0"}]}'
    return wrk.format("POST", "/v1/prices:quote", json_headers, body)
end
