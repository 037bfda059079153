-- wrk script: GET /v1/matches/{id} over the match ids in the data file.
-- usage: wrk ... -s match_read.lua URL -- <data.lua>
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  dofile(args[1])
  local who = BENCH.b[1]
  hdrs = { ["Authorization"] = "Bearer " .. who.key, ["X-Professional-Id"] = who.professional }
  counter = tid * 7919
end

function request()
  counter = counter + 1
  local id = BENCH.matches[(counter % #BENCH.matches) + 1]
  return wrk.format("GET", "/v1/matches/" .. id, hdrs)
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
