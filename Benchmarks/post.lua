-- wrk script: POSTs 400-event EventLists, each with fresh auditIDs (so none is a duplicate).
local template = nil
local counter = 0
local prefix = nil

function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end

function init(args)
  local f = assert(io.open(os.getenv("AUDITSEAL_BODY") or "eventlist.json", "rb"))
  template = f:read("*a")
  f:close()
  prefix = tid or tostring(math.random(1, 1e9))
end

function request()
  counter = counter + 1
  local body = template:gsub("@@", prefix .. "-" .. counter)
  return wrk.format("POST", "/v1/audit?timeout=30s", {["Content-Type"] = "application/json"}, body)
end
