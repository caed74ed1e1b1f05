-- wrk script for bench/server: POSTs corpus messages (paths listed in $BENCH_LIST, one a line)
-- in turn, with an Rspamd-style envelope, to the URL's path (/checkv2 for both mailsift and
-- Rspamd), and prints one machine-readable RESULT line at the end. A list line may carry the
-- message's own envelope after tabs (path, MAIL FROM, client IP, HELO: bench/auth's signed
-- messages); plain lines get the fixed one below.
local bodies = {}
local envelopes = {}
local idx = 0

function init(args)
  local list = os.getenv("BENCH_LIST")
  for line in io.lines(list) do
    local path, from, ip, helo = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)$")
    path = path or line
    local f = io.open(path, "rb")
    if f then
      bodies[#bodies + 1] = f:read("*a")
      envelopes[#bodies] = from and { from = from, ip = ip, helo = helo }
      f:close()
    end
  end
  -- Each wrk thread starts at a different message.
  idx = math.random(#bodies)
end

local headers = {
  ["Rcpt"] = "user@example.test",
  ["From"] = "sender@example.net",
  ["IP"] = "192.0.2.1",
  ["Helo"] = "mx.example.net",
  ["Content-Type"] = "text/plain",
}

function request()
  idx = idx % #bodies + 1
  local env = envelopes[idx]
  if env then
    headers["From"], headers["IP"], headers["Helo"] = env.from, env.ip, env.helo
  end
  return wrk.format("POST", nil, headers, bodies[idx])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
