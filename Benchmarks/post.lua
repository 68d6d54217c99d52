-- wrk script: POSTs 400-event EventLists, each with fresh auditIDs (so none is a duplicate).
-- The template's "@@" marks are cut out once; each request joins the pieces around a new token.
local pieces = nil
local counter = 0
local prefix = nil

function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end

function init(args)
  local f = assert(io.open(os.getenv("AUDITSEAL_BODY") or "eventlist.json", "rb"))
  local template = f:read("*a")
  f:close()
  pieces = {}
  local start = 1
  while true do
    local i = template:find("@@", start, true)
    if not i then break end
    pieces[#pieces + 1] = template:sub(start, i - 1)
    start = i + 2
  end
  pieces[#pieces + 1] = template:sub(start)
  prefix = tid or tostring(math.random(1, 1e9))
end

local headers = {["Content-Type"] = "application/json"}
function request()
  counter = counter + 1
  local token = prefix .. "-" .. counter
  local parts = {}
  for i = 1, #pieces - 1 do
    parts[2 * i - 1] = pieces[i]
    parts[2 * i] = token
  end
  parts[2 * #pieces - 1] = pieces[#pieces]
  return wrk.format("POST", "/v1/audit?timeout=30s", headers, table.concat(parts))
end
