-- wrk script for the gateway benchmark: POSTs one chat request body, checks every answer, and
-- writes one JSON line of results.
--
-- Environment:
--   BENCH_BODY    file holding the request body (JSON)
--   BENCH_PATH    request path (default /v1/chat/completions)
--   BENCH_EXPECT  "json" (a chat.completion) or "sse" (a chat.completion.chunk stream ending in [DONE])
--   BENCH_OUT     file the JSON result line is appended to
--   BENCH_LABEL   a label copied into the result line
--   BENCH_MAX     stop each thread after this many responses (0 = run for the whole -d duration);
--                 wrk's main thread still sleeps until -d is over, so the thread that stops also
--                 creates BENCH_DONE_FILE, and the caller then ends wrk early with SIGINT (wrk
--                 still prints its statistics and calls done())
--   BENCH_DONE_FILE see BENCH_MAX
--   BENCH_AUTH    optional bearer token
--
-- A response counts as "ok" only if it is a 200 whose body is a real completion carrying the
-- mock's answer ("shipped" is in the canned text); everything else is counted as non200 or bad.

local function read_file(path)
   local f = assert(io.open(path, "rb"))
   local data = f:read("*a")
   f:close()
   return data
end

local body_path = assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set")
local path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
local expect = os.getenv("BENCH_EXPECT") or "json"
local out_path = os.getenv("BENCH_OUT")
local label = os.getenv("BENCH_LABEL") or ""
local max_responses = tonumber(os.getenv("BENCH_MAX") or "0") or 0
local auth = os.getenv("BENCH_AUTH")
local done_file = os.getenv("BENCH_DONE_FILE")

wrk.method = "POST"
wrk.body = read_file(body_path)
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = (expect == "sse") and "text/event-stream" or "application/json"
if auth and auth ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. auth
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local prepared

function init(args)
   prepared = wrk.format("POST", path)
   responses = 0
   ok = 0
   non200 = 0
   bad = 0
   first_bad = ""
end

function request()
   return prepared
end

local function is_completion(body)
   if body == nil or not string.find(body, "shipped", 1, true) then
      return false
   end
   if expect == "sse" then
      return string.find(body, "chat.completion.chunk", 1, true) ~= nil
         and string.find(body, "data: [DONE]", 1, true) ~= nil
   end
   return string.find(body, '"chat.completion"', 1, true) ~= nil
      and string.find(body, '"choices"', 1, true) ~= nil
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= 200 then
      non200 = non200 + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
   elseif is_completion(body) then
      ok = ok + 1
   else
      bad = bad + 1
      if first_bad == "" then
         first_bad = "200 " .. string.sub(body or "", 1, 300)
      end
   end
   if max_responses > 0 and responses >= max_responses then
      if done_file and done_file ~= "" then
         local f = io.open(done_file, "a")
         if f then f:write("done\n"); f:close() end
      end
      wrk.thread:stop()
   end
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == "\\" then return "\\\\" end
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local t_ok, t_non200, t_bad, t_responses, sample = 0, 0, 0, 0, ""
   for _, thread in ipairs(threads) do
      t_ok = t_ok + thread:get("ok")
      t_non200 = t_non200 + thread:get("non200")
      t_bad = t_bad + thread:get("bad")
      t_responses = t_responses + thread:get("responses")
      local fb = thread:get("first_bad")
      if sample == "" and fb ~= nil then sample = fb end
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   local line = string.format(
      '{"label":%s,"requests":%d,"responses":%d,"ok":%d,"non200":%d,"bad":%d,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
      '"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
      '"first_bad":%s}\n',
      json_string(label), summary.requests, t_responses, t_ok, t_non200, t_bad,
      e.connect, e.read, e.write, e.status, e.timeout,
      secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000, json_string(sample))
   io.write(line)
   if out_path and out_path ~= "" then
      local f = assert(io.open(out_path, "a"))
      f:write(line)
      f:close()
   end
end
