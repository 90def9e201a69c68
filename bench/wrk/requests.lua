-- wrk script for `make bench`: cycles through prepared requests and reports
-- one JSON line when done.
--
-- Argument (after `--`): a file with one request per line, each line the
-- request's headers as "name: value" joined by " | ".
-- BENCH_DELAY_MS in the environment paces each connection: that many
-- milliseconds between its requests (the forged-token load). Without it no
-- delay() exists, so wrk sends back to back with no timer in between.

local prepared = {}
local next_index = 0
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")

local function headers_of(line)
  local headers = {}
  for pair in string.gmatch(line, "[^|]+") do
    local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
    if name then
      headers[name] = value
    end
  end
  return headers
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      prepared[#prepared + 1] = wrk.format("GET", wrk.path, headers_of(line))
    end
  end
end

function request()
  next_index = next_index % #prepared + 1
  return prepared[next_index]
end

if delay_ms then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
