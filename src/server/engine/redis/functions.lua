#!lua name=imchat_v1
-- The Redis engine's functions (docs/architecture.md, "The Redis engine"). Every decision
-- that reads and writes several keys runs here, atomically: a node never reads, decides,
-- then writes. Each node loads this library with FUNCTION LOAD REPLACE when it connects;
-- the version is in the library's name and in every function's, so nodes of another
-- version never call these by mistake.
--
-- Keys:
--   im:online            hash: name key -> JSON {"node":N,"name":...,"status":...}
--   im:nodes             sorted set: node id -> end of its lease (ms, Redis's clock)
--   im:node:seq          counter: the last node id handed out
--   im:node:<id>:users   set: the name keys registered through node <id>
-- Channel:
--   im:presence          JSON [node, name, status] (status null: offline)

local ONLINE = 'im:online'
local NODES = 'im:nodes'
local NODE_SEQ = 'im:node:seq'
local PRESENCE = 'im:presence'
-- Users of dead nodes taken offline per call: a node killed with ten thousand users is
-- cleaned up over several lease refreshes, never in one long call that stalls Redis.
local REAP_BATCH = 256

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function users_of(node)
  return 'im:node:' .. node .. ':users'
end

-- Whether node's lease is running.
local function alive(node)
  local lease = redis.call('ZSCORE', NODES, node)
  return lease and tonumber(lease) >= now_ms()
end

local function publish(node, name, status)
  redis.call('PUBLISH', PRESENCE, cjson.encode({tonumber(node), name, status}))
end

-- Takes the user with this name key offline, if node holds it.
local function offline(node, key)
  local entry = redis.call('HGET', ONLINE, key)
  if not entry then return end
  local user = cjson.decode(entry)
  if tostring(user.node) ~= tostring(node) then return end
  redis.call('HDEL', ONLINE, key)
  redis.call('SREM', users_of(node), key)
  publish(node, user.name, cjson.null)
end

-- Takes offline at most `budget` users of nodes whose lease has ended; a node with none
-- left is forgotten.
local function reap(budget)
  local dead = redis.call('ZRANGE', NODES, '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, 8)
  for _, node in ipairs(dead) do
    if budget <= 0 then return end
    local keys = redis.call('SRANDMEMBER', users_of(node), budget)
    for _, key in ipairs(keys) do
      offline(node, key)
      redis.call('SREM', users_of(node), key)
    end
    budget = budget - #keys
    if redis.call('SCARD', users_of(node)) == 0 then
      redis.call('ZREM', NODES, node)
    end
  end
end

-- node_join(lease_ms) -> a new node id, its lease running.
local function node_join(keys, args)
  local id = redis.call('INCR', NODE_SEQ)
  redis.call('ZADD', NODES, now_ms() + tonumber(args[1]), id)
  return id
end

-- node_lease(id, lease_ms) -> OK, or the error LOST if the lease ended (the node's users
-- are then taken offline by whoever reaps next). Reaps a batch of dead nodes' users.
local function node_lease(keys, args)
  local node, lease = args[1], tonumber(args[2])
  if not alive(node) then
    if redis.call('ZSCORE', NODES, node) then
      redis.call('ZADD', NODES, 0, node)
    end
    reap(REAP_BATCH)
    return redis.error_reply('LOST lease ended')
  end
  redis.call('ZADD', NODES, 'XX', now_ms() + lease, node)
  reap(REAP_BATCH)
  return 'OK'
end

-- node_leave(id): ends the node's lease now, so its users go offline at once (a batch now,
-- the rest at the next refreshes of any node).
local function node_leave(keys, args)
  if redis.call('ZSCORE', NODES, args[1]) then
    redis.call('ZADD', NODES, 0, args[1])
  end
  reap(REAP_BATCH)
  return 'OK'
end

-- register(node, key, name, status) -> OK, TAKEN, or the error LOST.
local function register(keys, args)
  local node, key, name, status = args[1], args[2], args[3], args[4]
  if not alive(node) then return redis.error_reply('LOST lease ended') end
  if redis.call('HEXISTS', ONLINE, key) == 1 then return 'TAKEN' end
  redis.call('HSET', ONLINE, key,
    cjson.encode({node = tonumber(node), name = name, status = status}))
  redis.call('SADD', users_of(node), key)
  publish(node, name, status)
  return 'OK'
end

-- status(node, key, status): the user's new status, if node holds it.
local function status(keys, args)
  local node, key, status = args[1], args[2], args[3]
  local entry = redis.call('HGET', ONLINE, key)
  if not entry then return 'OK' end
  local user = cjson.decode(entry)
  if tostring(user.node) ~= tostring(node) then return 'OK' end
  user.status = status
  redis.call('HSET', ONLINE, key, cjson.encode(user))
  publish(node, user.name, status)
  return 'OK'
end

-- retire(node, key): the user goes offline, if node holds it.
local function retire(keys, args)
  offline(args[1], args[2])
  return 'OK'
end

-- online() -> every online user's entry (a node reads it once, as it connects).
local function online(keys, args)
  return redis.call('HVALS', ONLINE)
end

redis.register_function('imchat_v1_node_join', node_join)
redis.register_function('imchat_v1_node_lease', node_lease)
redis.register_function('imchat_v1_node_leave', node_leave)
redis.register_function('imchat_v1_register', register)
redis.register_function('imchat_v1_status', status)
redis.register_function('imchat_v1_retire', retire)
redis.register_function{function_name = 'imchat_v1_online', callback = online,
  flags = {'no-writes'}}
