#!lua name=imchat_v1
-- The Redis engine's functions (docs/architecture.md, "The Redis engine"). Every decision
-- that reads and writes several keys runs here, atomically: a node never reads, decides,
-- then writes. Each node loads this library with FUNCTION LOAD REPLACE when it connects;
-- the version is in the library's name and in every function's, so nodes of another
-- version never call these by mistake.
--
-- Keys:
--   im:online            hash: name key -> JSON {"node":ID,"name":...,"status":...}
--   im:nodes             sorted set: node id -> end of its lease (ms, Redis's clock)
--   im:node:seq          counter: the last node number handed out; a node id is that
--                        number and a random token of the node's ("3-9f2c..."), so an id
--                        is never handed out twice, even by a Redis restarted empty
--   im:node:<id>:users   set: the name keys registered through node <id>
--   im:conv:seq          counter: the last conversation id handed out (INCR, by the node)
--   im:conv:<id>:members sorted set: name key -> place in the join order
--   im:conv:<id>:next    counter: the place the next member takes
--   im:conv:<id>:invited set: name keys invited and not joined
--   im:user:<key>:joined  set: conversation ids the user is in
--   im:user:<key>:invited set: conversation ids the user is invited to (may hold ended
--                        ones: pruned when it reaches the limit, so ending a conversation
--                        costs nothing per invitee)
-- Channels:
--   im:presence          JSON [node id, name, status] (status null: offline)
--   im:conv:<id>         JSON ["joined"|"left", id, name] and ["message", id, name, text],
--                        in the one order every member sees
--   im:node:<id>         JSON ["invitation", id, inviter, [names on that node]]

local ONLINE = 'im:online'
local NODES = 'im:nodes'
local NODE_SEQ = 'im:node:seq'
local PRESENCE = 'im:presence'
-- Users of dead nodes taken offline per call. Each may leave up to 1024 conversations, so
-- a node killed with ten thousand users is cleaned up over many short calls (a node whose
-- call says MORE calls `reap` again at once), never in one long call that stalls Redis.
local REAP_BATCH = 32

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
  redis.call('PUBLISH', PRESENCE, cjson.encode({node, name, status}))
end

local function members_of(id) return 'im:conv:' .. id .. ':members' end
local function next_of(id) return 'im:conv:' .. id .. ':next' end
local function invited_to(id) return 'im:conv:' .. id .. ':invited' end
local function joined_by(key) return 'im:user:' .. key .. ':joined' end
local function invites_of(key) return 'im:user:' .. key .. ':invited' end

-- The online user with this name key, if node holds it.
local function user_on(node, key)
  local entry = redis.call('HGET', ONLINE, key)
  if not entry then return nil end
  local user = cjson.decode(entry)
  if tostring(user.node) ~= tostring(node) then return nil end
  return user
end

-- Takes key (named name) out of conversation id, and tells its channel; the last member
-- leaving ends it (its pending invitations lapse with its invited set).
local function leave_one(id, key, name)
  if redis.call('ZREM', members_of(id), key) == 0 then return false end
  redis.call('SREM', joined_by(key), id)
  redis.call('PUBLISH', 'im:conv:' .. id, cjson.encode({'left', tonumber(id), name}))
  if redis.call('ZCARD', members_of(id)) == 0 then
    redis.call('DEL', invited_to(id), next_of(id))
  end
  return true
end

-- Takes the user with this name key offline, if node holds it: it leaves every
-- conversation, its invitations go, and its name is free.
local function offline(node, key)
  local user = user_on(node, key)
  if not user then return end
  for _, id in ipairs(redis.call('SMEMBERS', joined_by(key))) do
    leave_one(id, key, user.name)
  end
  for _, id in ipairs(redis.call('SMEMBERS', invites_of(key))) do
    redis.call('SREM', invited_to(id), key)
  end
  redis.call('DEL', joined_by(key), invites_of(key))
  redis.call('HDEL', ONLINE, key)
  redis.call('SREM', users_of(node), key)
  publish(node, user.name, cjson.null)
end

-- Takes offline at most `budget` users of nodes whose lease has ended; a node with none
-- left is forgotten. Returns 'MORE' if some are left for the next call, else 'OK'.
local function reap(budget)
  local dead = redis.call('ZRANGE', NODES, '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, 8)
  for _, node in ipairs(dead) do
    if budget <= 0 then return 'MORE' end
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
  if budget <= 0 then return 'MORE' end
  return 'OK'
end

-- node_join(lease_ms, token) -> a new node id, its lease running.
local function node_join(keys, args)
  local id = redis.call('INCR', NODE_SEQ) .. '-' .. args[2]
  redis.call('ZADD', NODES, now_ms() + tonumber(args[1]), id)
  return id
end

-- node_lease(id, lease_ms) -> OK (or MORE: dead nodes' users are left to reap), or the
-- error LOST if the lease ended (the node's users are then taken offline by whoever reaps
-- next). Reaps a batch of dead nodes' users.
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
  return reap(REAP_BATCH)
end

-- reap() -> OK, or MORE if dead nodes' users are left.
local function reap_more(keys, args)
  return reap(REAP_BATCH)
end

-- node_leave(id): ends the node's lease now, so its users go offline at once (a batch now,
-- the rest at the next refreshes of any node).
local function node_leave(keys, args)
  if redis.call('ZSCORE', NODES, args[1]) then
    redis.call('ZADD', NODES, 0, args[1])
  end
  return reap(REAP_BATCH)
end

-- register(node, key, name, status) -> OK, TAKEN, or the error LOST.
local function register(keys, args)
  local node, key, name, status = args[1], args[2], args[3], args[4]
  if not alive(node) then return redis.error_reply('LOST lease ended') end
  if redis.call('HEXISTS', ONLINE, key) == 1 then return 'TAKEN' end
  redis.call('HSET', ONLINE, key,
    cjson.encode({node = node, name = name, status = status}))
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

-- The names of conversation id's members, in join order.
local function member_names(id)
  local keys = redis.call('ZRANGE', members_of(id), 0, -1)
  if #keys == 0 then return {} end
  local names = {}
  for i, entry in ipairs(redis.call('HMGET', ONLINE, unpack(keys))) do
    if entry then names[#names + 1] = cjson.decode(entry).name end
  end
  return names
end

-- Whether key may hold one more invitation: ids of ended conversations are pruned first
-- when the set is full (only then: so ending a conversation costs nothing per invitee).
local function may_be_invited(key, max)
  if redis.call('SCARD', invites_of(key)) < max then return true end
  for _, id in ipairs(redis.call('SMEMBERS', invites_of(key))) do
    if redis.call('SISMEMBER', invited_to(id), key) == 0 then
      redis.call('SREM', invites_of(key), id)
    end
  end
  return redis.call('SCARD', invites_of(key)) < max
end

-- invite(node, id, key, room, max_invitations, name1, key1, name2, key2, ...) -> the names
-- left out and why, flat: [name, why, ...] (why: offline, yourself, invitations, full).
-- The id comes from INCR im:conv:seq, which the node did first and subscribed to.
-- INVITATION goes to each invitee's node, on the node's channel.
local function invite(keys, args)
  local node, id, key = args[1], args[2], args[3]
  local room, max = tonumber(args[4]), tonumber(args[5])
  local me = user_on(node, key)
  if not me then return redis.error_reply('GONE not online on this node') end
  local left, seen, invited, by_node = {}, {}, 0, {}
  for i = 6, #args - 1, 2 do
    local name, k = args[i], args[i + 1]
    local them = k ~= '' and redis.call('HGET', ONLINE, k)
    if not them then
      left[#left + 1] = name; left[#left + 1] = 'offline'
    elseif k == key then
      left[#left + 1] = name; left[#left + 1] = 'yourself'
    elseif not seen[k] then
      seen[k] = true
      them = cjson.decode(them)
      if not may_be_invited(k, max) then
        left[#left + 1] = name; left[#left + 1] = 'invitations'
      elseif invited == room then
        left[#left + 1] = name; left[#left + 1] = 'full'
      else
        invited = invited + 1
        redis.call('SADD', invited_to(id), k)
        redis.call('SADD', invites_of(k), id)
        local on = tostring(them.node)
        by_node[on] = by_node[on] or {}
        table.insert(by_node[on], them.name)
      end
    end
  end
  redis.call('ZADD', members_of(id), redis.call('INCR', next_of(id)), key)
  redis.call('SADD', joined_by(key), id)
  for on, names in pairs(by_node) do
    redis.call('PUBLISH', 'im:node:' .. on,
      cjson.encode({'invitation', tonumber(id), me.name, names}))
  end
  return left
end

-- join(node, id, key) -> the members' names in join order (the joiner last), or the error
-- NOTINVITED. A member joining again changes nothing and gets the names.
local function join(keys, args)
  local node, id, key = args[1], args[2], args[3]
  local me = user_on(node, key)
  if not me then return redis.error_reply('GONE not online on this node') end
  if not redis.call('ZSCORE', members_of(id), key) then
    if redis.call('SISMEMBER', invited_to(id), key) == 0 then
      return redis.error_reply('NOTINVITED')
    end
    redis.call('SREM', invited_to(id), key)
    redis.call('SREM', invites_of(key), id)
    redis.call('ZADD', members_of(id), redis.call('INCR', next_of(id)), key)
    redis.call('SADD', joined_by(key), id)
    redis.call('PUBLISH', 'im:conv:' .. id, cjson.encode({'joined', tonumber(id), me.name}))
  end
  return member_names(id)
end

-- leave(node, id, key) -> OK, or the error NOTMEMBER.
local function leave(keys, args)
  local me = user_on(args[1], args[3])
  if not me or not leave_one(args[2], args[3], me.name) then
    return redis.error_reply('NOTMEMBER')
  end
  return 'OK'
end

-- send(id, key, name, text) -> OK, or the error NOTMEMBER. The message is published on the
-- conversation's channel: Redis's order is the one order every member sees, the sender's
-- own copy included.
local function send(keys, args)
  local id, key, name, text = args[1], args[2], args[3], args[4]
  if not redis.call('ZSCORE', members_of(id), key) then
    return redis.error_reply('NOTMEMBER')
  end
  redis.call('PUBLISH', 'im:conv:' .. id, cjson.encode({'message', tonumber(id), name, text}))
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
redis.register_function('imchat_v1_reap', reap_more)
redis.register_function('imchat_v1_invite', invite)
redis.register_function('imchat_v1_join', join)
redis.register_function('imchat_v1_leave', leave)
redis.register_function('imchat_v1_send', send)
redis.register_function{function_name = 'imchat_v1_online', callback = online,
  flags = {'no-writes'}}
