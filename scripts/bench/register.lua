-- wrk script: POST /v1/registrations with a fresh valid BSN per request.
-- Every 10th request (after the first 15) is made by a professional of organisation B
-- for a youth that a professional of organisation A registered 15 requests earlier on the
-- same thread, so about 10% of the requests create a match (if the first registration is
-- still in flight the two race, which the service serialises; a match results either way).
-- With a third argument "parents" every body also names two parents (their own BSN range,
-- one pair per youth, so they link no two youths: the family-match work of a registration
-- with parents, without family matches).
-- usage: wrk ... -s register.lua URL -- <data.lua> <bsn offset> [parents]
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function bsn_from(x)
  for _ = 1, 2 do
    local s = tostring(x)
    local total = 0
    for i = 1, 8 do
      total = total + tonumber(s:sub(i, i)) * (10 - i)
    end
    local check = total % 11
    if check < 10 then
      return s .. check
    end
    x = x + 1
  end
end

local function bsn(k)
  return bsn_from(10000000 + 2 * k)
end

local function parent(k, j)
  return bsn_from(80000000 + 4 * k + 2 * j)
end

function init(args)
  dofile(args[1])
  base = tonumber(args[2]) + tid * 200000
  with_parents = args[3] == "parents"
  local function headers(list)
    local out = {}
    for i, who in ipairs(list) do
      out[i] = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. who.key,
        ["X-Professional-Id"] = who.professional,
      }
    end
    return out
  end
  headers_a = headers(BENCH.a)
  headers_b = headers(BENCH.b)
end

function request()
  local n = counter
  counter = counter + 1
  local k, h
  if n >= 15 and n % 10 == 9 then
    k = base + n - 15
    h = headers_b[(n % #headers_b) + 1]
  else
    k = base + n
    h = headers_a[(n % #headers_a) + 1]
  end
  local body
  if with_parents then
    body = '{"bsn":"' .. bsn(k) .. '","birth_date":"' .. BENCH.birth_date
      .. '","parents":[{"bsn":"' .. parent(k, 0) .. '"},{"bsn":"' .. parent(k, 1) .. '"}]}'
  else
    body = '{"bsn":"' .. bsn(k) .. '","birth_date":"' .. BENCH.birth_date .. '"}'
  end
  return wrk.format("POST", "/v1/registrations", h, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,'
      .. '"p999_us":%d,"max_us":%d,"mean_us":%.1f,"errors":{"connect":%d,"read":%d,'
      .. '"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
