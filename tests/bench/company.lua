-- POST /v1/company:lookup for tests/bench/company.sh (loaded by wrk; common.lua
-- does the key, the counters and the BENCH line).
-- Script arguments (after "--"): 1 a tag (unused here), 2 the mode:
--   cached   a random number of BENCH_IDS (looked up once before: the cache answers)
--   fresh    a new German number each request (VIES is asked each time)
--   fake     the same body straight to the fake VIES's check-vat-number (its own latency)
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local mode = "cached"
local base_init = init

function init(args)
    base_init(args)
    mode = args[2] or mode
end

-- A German VAT number: 8 random digits and the check digit (ISO 7064 MOD 11,10).
local function fresh_de()
    local digits, product = {}, 10
    for i = 1, 8 do
        local d = math.random(i == 1 and 1 or 0, 9)
        digits[i] = tostring(d)
        local total = (d + product) % 10
        if total == 0 then
            total = 10
        end
        product = (2 * total) % 11
    end
    return table.concat(digits), tostring((11 - product) % 10)
end

function request()
    if mode == "cached" then
        return wrk.format("POST", "/v1/company:lookup", json_headers,
            '{"vatNumber":"' .. random_id() .. '"}')
    end
    local head, check = fresh_de()
    if mode == "fake" then
        return wrk.format("POST", "/taxation_customs/vies/rest-api/check-vat-number", json_headers,
            '{"countryCode":"DE","vatNumber":"' .. head .. check .. '"}')
    end
    return wrk.format("POST", "/v1/company:lookup", json_headers,
        '{"vatNumber":"DE' .. head .. check .. '"}')
end
