-- POST /v1/customers: a realistic customer from one of twelve countries
-- (names, street and city in their own script), each with a unique e-mail
-- address made of the run tag, the thread number and a per-thread counter.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

-- first, last, street, postal code, city, country, phone, language, gender,
-- a private note, and a company (name, VAT number) for some.
local people = {
    {"Łukasz", "Wiśniewski", "ul. Żółkiewskiego 12/4", "31-539", "Kraków", "PL",
     "+48 601 234 567", "pl", "MALE", "Woli terminy popołudniowe; alergia na lateks.",
     {"Pracownia Źródło sp. z o.o.", "PL5260250274"}},
    {"Jürgen", "Größmann", "Schloßstraße 7", "10115", "Berlin", "DE", "+49 30 901820",
     "de-DE", "MALE", "Bevorzugt Termine am Vormittag, zahlt per Überweisung.", nil},
    {"Zoë", "Lefèvre", "12 rue de l'Église", "75004", "Paris", "FR", "+33 1 42 68 53 00",
     "fr", "FEMALE", "Préfère être contactée par SMS ; cliente fidèle depuis 2019.", nil},
    {"José", "Martínez Núñez", "Calle de Alcalá 45", "28014", "Madrid", "ES",
     "+34 912 345 678", "es", "MALE", "Pide cita los sábados por la mañana.",
     {"Estudio Núñez S.L.", "ESB12345674"}},
    {"Søren", "Østergaard", "Nørrebrogade 3", "2200", "København N", "DK", "+45 32 12 34 56",
     "da", "MALE", "Ønsker påmindelse dagen før.", nil},
    {"Αλέξανδρος", "Παπαδόπουλος", "Οδός Ερμού 15", "105 63", "Αθήνα", "GR",
     "+30 21 0123 4567", "el", "MALE", "Προτιμά ραντεβού μετά τις 17:00.", nil},
    {"Дмитро", "Шевченко", "вул. Хрещатик 22", "01001", "Київ", "UA", "+380 44 123 4567",
     "uk", "MALE", "Просить нагадування електронною поштою.", nil},
    {"Ayşe", "Yılmaz", "İstiklal Caddesi 101", "34433", "İstanbul", "TR", "+90 212 123 45 67",
     "tr", "FEMALE", "Randevularını genellikle hafta içi alır.", nil},
    {"陽菜", "山田", "千代田区丸の内1-1-1", "100-0005", "東京都", "JP", "+81 3-1234-5678",
     "ja", "FEMALE", "午後の予約を希望。", nil},
    {"Thị Hương", "Nguyễn", "12 Phố Hàng Bạc", "100000", "Hà Nội", "VN", "+84 24 3825 1234",
     "vi", "FEMALE", "Thích được nhắc lịch qua tin nhắn.", nil},
    {"Jiří", "Dvořák", "Národní 9", "110 00", "Praha 1", "CZ", "+420 224 123 456", "cs",
     "MALE", "Platí kartou, chce fakturu na firmu.", {"Dvořák a syn s.r.o.", "CZ12345679"}},
    {"Þórunn", "Guðmundsdóttir", "Laugavegur 28", "101", "Reykjavík", "IS",
     "+354 551 2345", "is", "FEMALE", "Kemur reglulega á þriðjudögum.", nil},
}
local tags = {'["vip","newsletter"]', '["stały klient"]', '["neu"]', '[]', '["fidèle","été"]'}

-- ASCII JSON string content: none of the fixed texts above holds a quote or
-- a backslash, so they go in as they are.
local function body(n)
    local p = people[(n + tid) % #people + 1]
    local email = string.format("bench.%s.t%d.n%d@example.com", tag, tid, n)
    local company, is_company = "null", "false"
    if p[11] then
        company = string.format('{"name":"%s","vatNumber":"%s","address":"%s, %s %s"}',
            p[11][1], p[11][2], p[3], p[4], p[5])
        is_company = "true"
    end
    return string.format(
        '{"firstName":"%s","lastName":"%s","email":"%s","phone":"%s","gender":"%s",'
            .. '"birthDate":"%04d-%02d-%02d","description":"%s","tags":%s,'
            .. '"isCompany":%s,"company":%s,'
            .. '"addresses":[{"kind":"BILLING","line1":"%s","postalCode":"%s","city":"%s",'
            .. '"country":"%s"}],'
            .. '"preferences":{"language":"%s","email":{"granted":true,"source":"web"},'
            .. '"sms":{"granted":%s,"source":"booking"},"marketing":{"granted":false}}}',
        p[1], p[2], email, p[7], p[9], 1950 + n % 55, 1 + n % 12, 1 + n % 28, p[10],
        tags[n % #tags + 1], is_company, company, p[3], p[4], p[5], p[6], p[8],
        (n % 2 == 0) and "true" or "false")
end

function request()
    counter = counter + 1
    return wrk.format("POST", "/v1/customers", json_headers, body(counter))
end
