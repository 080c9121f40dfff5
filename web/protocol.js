// protocol.js: the chat protocol (docs/protocol.md) and the page's model, with no DOM.
//
// Everything here is pure: strings in, plain objects out. That is why it is a module of
// its own: `node --test web/tests/` checks it without a browser, and app.js only has to
// turn the model's "changes" into DOM nodes and lines into WebSocket frames.
//
// Over WebSocket one text frame carries one protocol line without its newline: a command
// word, then optionally one space and exactly one JSON value.

/** The server's default `--max-line`. A longer frame makes the server close the whole
 * connection (code 1009), so the page refuses to send one and says why instead. */
export const MAX_LINE_BYTES = 65536;

/** Reconnect backoff: the first retry after half a second (a restart is usually quick),
 * doubling up to ten seconds, so a server that is down for long is not hammered. */
export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 10000;

/** A line from the server that does not follow the protocol. The page shows it and goes
 * on with the next line: one bad line must never break the page. */
export class ProtocolError extends Error {}

/** `text` cut to `max` characters, to quote a bad line without flooding the page. */
export function cut(text, max = 120) {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** One line to send: the command word, and its arguments as compact JSON if it has any. */
export function encode(command, args) {
  return args === undefined ? command : `${command} ${JSON.stringify(args)}`;
}

/** The REGISTER line. Presence in "changes" mode: after the first ONLINE_USERS snapshot
 * only the users who changed arrive (PRESENCE), which stays cheap with many users; the
 * page handles "full" snapshots too. Conversations stay in the default "full" mode: a
 * complete CONVERSATIONS map after every join or leave means the members lists are right
 * by construction, with no deltas to get wrong. A server password (`--password-file`)
 * goes in the same options, only when one was typed: without one the line is unchanged. */
export function registerLine(name, status, password) {
  const options = { presence: 'changes' };
  if (password) options.password = password;
  return encode('REGISTER', [name, status, options]);
}

/** The server's answer to a missing or wrong password (docs/protocol.md). */
export const WRONG_PASSWORD = 'REGISTER: wrong password';

/** Whether a line is too long for the server to accept (UTF-8 bytes, as the server counts). */
export function lineTooLong(line) {
  return new TextEncoder().encode(line).length >= MAX_LINE_BYTES;
}

/** How long to wait before reconnect attempt number `attempt` (0, 1, 2...). */
export function reconnectDelay(attempt) {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
}

// ---- Decoding: every line is checked against the shape docs/protocol.md gives it. ----

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function fail(command, expected) {
  throw new ProtocolError(`${command}: expected ${expected}`);
}

function convId(command, v) {
  return Number.isSafeInteger(v) && v > 0 ? v : fail(command, 'a positive conversation id');
}

function text(command, v) {
  return typeof v === 'string' ? v : fail(command, 'a string');
}

function nameList(command, v) {
  return Array.isArray(v) && v.every((n) => typeof n === 'string') ? [...v] : fail(command, 'a list of names');
}

function tuple(command, v, length, expected) {
  return Array.isArray(v) && v.length === length ? v : fail(command, expected);
}

/** `{"name": status}` as a Map; PRESENCE also allows `null` (went offline). */
function statusMap(command, v, allowNull) {
  if (!isObject(v)) fail(command, 'an object of names and statuses');
  const map = new Map();
  for (const [name, status] of Object.entries(v)) {
    if (typeof status !== 'string' && !(allowNull && status === null)) {
      fail(command, `a status for ${cut(name, 32)}`);
    }
    map.set(name, status);
  }
  return map;
}

/** One decoder per command the server sends: table-based dispatch, as in the course. */
const DECODERS = {
  ONLINE_USERS: (c, a) => ({ users: statusMap(c, a, false) }),
  PRESENCE: (c, a) => ({ changes: statusMap(c, a, true) }),
  INVITATION: (c, a) => {
    const [id, from] = tuple(c, a, 2, '[id, inviter]');
    return { id: convId(c, id), from: text(c, from) };
  },
  CONVERSATIONS: (c, a) => {
    if (!isObject(a)) fail(c, 'an object of conversations');
    const convs = new Map();
    for (const [key, members] of Object.entries(a)) {
      // Object keys are JSON strings: "7", never "07" or "-1".
      if (!/^[1-9][0-9]*$/.test(key)) fail(c, 'conversation ids as keys');
      convs.set(convId(c, Number(key)), nameList(c, members));
    }
    return { convs };
  },
  MESSAGE: (c, a) => {
    const [id, from, body] = tuple(c, a, 3, '[id, sender, text]');
    return { id: convId(c, id), from: text(c, from), text: text(c, body) };
  },
  ERROR: (c, a) => ({ text: text(c, a) }),
};

/** One line from the server as `{command, ...fields}`; throws ProtocolError if malformed. */
export function parseLine(data) {
  if (typeof data !== 'string') throw new ProtocolError('a binary frame, not a text line');
  // The server sends no newline, but a stray one is harmless: accept it as the server does.
  const line = data.replace(/\r?\n$/, '');
  const space = line.indexOf(' ');
  const word = space < 0 ? line : line.slice(0, space);
  const command = word.toUpperCase(); // command words match without regard to case
  if (!Object.hasOwn(DECODERS, command)) {
    throw new ProtocolError(`unknown command ${JSON.stringify(cut(word, 32))}`);
  }
  let args = null;
  if (space >= 0) {
    try {
      args = JSON.parse(line.slice(space + 1));
    } catch {
      throw new ProtocolError(`${command}: the arguments are not JSON`);
    }
  }
  return { command, ...DECODERS[command](command, args) };
}

/** What an ERROR text answers: `"JOIN: not invited to conversation 7"` → JOIN, 7. */
export function errorSubject(errorText) {
  const command = /^([A-Z_]+): /.exec(errorText);
  const id = /\bconversation (\d+)\b/.exec(errorText);
  return { command: command ? command[1] : null, id: id ? Number(id[1]) : null };
}

/** Our own name as the server spells it in ONLINE_USERS. The server keeps names as typed,
 * so an exact match is the rule; the loose match (compatibility forms, case) only guards
 * against a spelling difference. It is finer than the server's own "one name" rule, so it
 * can never pick somebody else. */
export function findSelf(names, typed) {
  const loose = (s) => s.normalize('NFKC').toLowerCase();
  for (const name of names) if (name === typed) return name;
  for (const name of names) if (loose(name) === loose(typed)) return name;
  return typed;
}

// ---- The model: what the page knows, changed only by server lines and user actions. ----
//
// Each method returns a list of "changes", plain objects `{type, ...}` that app.js renders
// one by one (a line to send is a change too, `{type: 'send', line}`). Keeping every rule
// here (who is self, when a conversation opens or ends, where an ERROR belongs) means the
// rules are tested without a browser, and the DOM code stays a dumb painter.

export class Chat {
  constructor() {
    this.typedName = ''; // the name as typed at sign-in, sent again on reconnect
    this.me = ''; // our name as the server spells it (set by the first ONLINE_USERS)
    this.status = 'available'; // sent with REGISTER, again on reconnect
    this.password = ''; // the server password typed at sign-in, for reconnects; never shown
    this.passwordRefused = false; // the last sign-in got WRONG_PASSWORD
    this.confirmedStatus = 'available'; // the last status the server told everybody
    this.signedIn = false;
    this.users = new Map(); // other online users -> status (self is never in it)
    this.live = new Map(); // conversation id -> conversation we are a member of now
    this.panes = []; // every conversation shown, live or ended, oldest first
    this.invitations = new Map(); // id -> {id, from, joining, dead}, from other users
    this.leaving = new Set(); // ids we sent LEAVE for, whose lines may still be on the way
    this.selected = null; // the conversation shown
    this.previous = null; // the previous line: an INVITE error follows its own INVITATION
    this.lastJoin = null; // the invitation accepted last, for a JOIN error without an id
    this.inviting = []; // names of each INVITE sent, until its INVITATION (or ERROR) comes
    this.nextKey = 1; // local key per pane: ids repeat after a server restart, keys do not
  }

  /** Sign in (or in again after a lost connection) with this name and status, and the
   * server password kept from the sign-in form unless another is given. */
  register(name, status, password = this.password) {
    this.typedName = name;
    this.status = status;
    this.password = password;
    this.signedIn = false;
    this.inviting = []; // an INVITE typed while disconnected was never sent
    return [{ type: 'send', line: registerLine(name, status, password), beforeSignIn: true }];
  }

  /** The connection closed before the server accepted REGISTER: back to the form, saying
   * why. Never a retry: a server that refuses us would only refuse again. After wrong
   * passwords, the likely why is the server's ban of an address that guessed too often
   * (it refuses the connection, so no ERROR can say so). */
  closedBeforeSignIn(where) {
    const text = `Could not reach the server at ${where}.`;
    const hint = ' After many wrong passwords a server refuses your address for a while: try again later.';
    return [{ type: 'signin-error', text: this.passwordRefused ? text + hint : text, field: 'name' }];
  }

  /** Apply one parsed server line. */
  apply(msg) {
    const changes = this[`on${msg.command}`](msg);
    this.previous = msg;
    return changes;
  }

  onONLINE_USERS({ users }) {
    const changes = [];
    if (!this.signedIn) {
      this.signedIn = true;
      this.passwordRefused = false;
      this.me = findSelf(users.keys(), this.typedName);
      changes.push({ type: 'signed-in' });
      this.confirmedStatus = null; // so that the status is shown, changed or not
    }
    this.setOwnStatus(users.get(this.me), changes);
    users.delete(this.me); // a client hides itself
    this.users = users;
    changes.push({ type: 'users' });
    return changes;
  }

  onPRESENCE({ changes: delta }) {
    const changes = [];
    for (const [name, status] of delta) {
      if (name === this.me) this.setOwnStatus(status, changes);
      else if (status === null) this.users.delete(name);
      else this.users.set(name, status);
    }
    changes.push({ type: 'users' });
    return changes;
  }

  /** Our status as the server told everybody; a full snapshot repeats it unchanged. */
  setOwnStatus(status, changes) {
    if (typeof status !== 'string' || status === this.confirmedStatus) return;
    this.status = this.confirmedStatus = status;
    changes.push({ type: 'me' });
  }

  onINVITATION({ id, from }) {
    if (from === this.me) {
      // Our own INVITE created it, with us as its only member: open it, pending.
      const conv = this.open(id, [this.me]);
      conv.invited = this.inviting.shift() ?? []; // to say whom it waits for
      return [{ type: 'opened', conv }, ...this.select(conv, true)];
    }
    if (this.live.has(id)) return [];
    const invitation = { id, from, joining: false, dead: false };
    this.invitations.set(id, invitation);
    return [{ type: 'invited', invitation }];
  }

  onCONVERSATIONS({ convs }) {
    const changes = [];
    for (const [id, members] of convs) this.setMembers(id, members, changes);
    // A LEAVE is done once a map no longer lists its conversation.
    for (const id of [...this.leaving]) if (!convs.has(id)) this.leaving.delete(id);
    // The map lists all our conversations: one missing from it, we are no longer in.
    for (const [id, conv] of [...this.live]) {
      if (!convs.has(id)) this.end(conv, 'you are no longer a member', changes);
    }
    return changes;
  }

  /** A conversation's member list, from a map; opens it if it is new to us. */
  setMembers(id, members, changes) {
    if (this.leaving.has(id)) return; // we left; this was sent before the server knew
    const conv = this.live.get(id);
    if (conv) {
      if (conv.members.join('\n') === members.join('\n')) return;
      conv.members = members;
      changes.push({ type: 'members', conv });
      return;
    }
    // New to us: we accepted its invitation (or joined it elsewhere). Show it now.
    const invitation = this.invitations.get(id);
    const opened = this.open(id, members);
    changes.push({ type: 'opened', conv: opened });
    if (invitation) {
      this.invitations.delete(id);
      changes.push({ type: 'uninvited', id });
      if (invitation.joining) changes.push(...this.select(opened, true));
    }
    if (!this.selected) changes.push(...this.select(opened, false));
  }

  onMESSAGE({ id, from, text: body }) {
    if (this.leaving.has(id)) return []; // sent before our LEAVE reached the server
    const conv = this.live.get(id);
    if (!conv) {
      return [{ type: 'error', place: 'global', text: `A message for conversation ${id}, which this page is not in.` }];
    }
    const changes = [{ type: 'message', conv, from, text: body, own: from === this.me }];
    if (conv !== this.selected) {
      conv.unread += 1;
      changes.push({ type: 'unread', conv });
    }
    return changes;
  }

  onERROR({ text: errorText }) {
    const { command, id } = errorSubject(errorText);
    const error = (place, extra) => [{ type: 'error', place, text: errorText, ...extra }];
    if (command === 'REGISTER' && !this.signedIn) {
      // A wrong password is forgotten (no reconnect may send it again); the form asks anew.
      this.passwordRefused = errorText === WRONG_PASSWORD;
      if (this.passwordRefused) this.password = '';
      return [{ type: 'signin-error', text: errorText, field: this.passwordRefused ? 'password' : 'name' }];
    }
    if (command === 'STATUS') {
      this.status = this.confirmedStatus; // refused: keep the one everybody sees
      return error('status');
    }
    if (command === 'INVITE') {
      // The server sends the INVITATION for the new conversation, then this ERROR naming
      // who could not be invited: it belongs to that conversation.
      const prev = this.previous;
      const conv = prev && prev.command === 'INVITATION' && prev.from === this.me && this.live.get(prev.id);
      if (conv) return error('conv', { conv });
      this.inviting.shift(); // refused outright: no INVITATION will come for it
      return error('global');
    }
    if (command === 'JOIN') {
      const invitation = this.invitations.get(id ?? this.lastJoin);
      if (invitation) {
        invitation.joining = false;
        invitation.dead = id !== null; // "not invited to conversation N": it is gone
        return [{ type: 'invitation-error', invitation, text: errorText }];
      }
    }
    const conv = id !== null && this.live.get(id);
    return conv ? error('conv', { conv }) : error('global');
  }

  /** The connection is gone: the server has taken us out of every conversation. */
  connectionLost(why) {
    const changes = [];
    for (const conv of [...this.live.values()]) this.end(conv, why, changes);
    for (const id of this.invitations.keys()) changes.push({ type: 'uninvited', id });
    this.invitations.clear();
    this.leaving.clear();
    this.users.clear();
    this.signedIn = false;
    this.previous = null;
    this.inviting = [];
    changes.push({ type: 'users' });
    return changes;
  }

  // ---- What the user does. ----

  setStatus(status) {
    this.status = status;
    return [{ type: 'send', line: encode('STATUS', [status]) }];
  }

  invite(names) {
    this.inviting.push(names);
    return [{ type: 'send', line: encode('INVITE', names) }];
  }

  accept(id) {
    const invitation = this.invitations.get(id);
    if (!invitation || invitation.dead) return [];
    invitation.joining = true;
    this.lastJoin = id;
    return [{ type: 'joining', invitation }, { type: 'send', line: encode('JOIN', [id]) }];
  }

  /** The protocol has no "decline": LEAVE is only for members (it would get an ERROR), so
   * declining sends nothing and the invitation lapses on the server by itself. */
  decline(id) {
    return this.invitations.delete(id) ? [{ type: 'uninvited', id }] : [];
  }

  /** A message to send, or an error if it is too long for the server. */
  say(conv, body) {
    const line = encode('SEND_MESSAGE', [conv.id, body]);
    if (lineTooLong(line)) {
      return [{ type: 'error', place: 'conv', conv, text: `Message too long (the server takes lines under ${MAX_LINE_BYTES} bytes).` }];
    }
    return [{ type: 'send', line }];
  }

  /** Close a pane: a live conversation is left (LEAVE); an ended one is just closed. */
  close(conv) {
    const changes = [];
    if (!conv.ended) {
      this.live.delete(conv.id);
      this.leaving.add(conv.id);
      changes.push({ type: 'send', line: encode('LEAVE', [conv.id]) });
    }
    this.panes = this.panes.filter((c) => c !== conv);
    changes.push({ type: 'closed', conv });
    if (this.selected === conv) {
      this.selected = null;
      const next = this.panes[this.panes.length - 1];
      if (next) changes.push(...this.select(next, true));
    }
    return changes;
  }

  select(conv, focus) {
    this.selected = conv;
    conv.unread = 0;
    return [{ type: 'selected', conv, focus }, { type: 'unread', conv }];
  }

  // ---- Helpers. ----

  open(id, members) {
    const conv = { key: this.nextKey++, id, members, invited: [], unread: 0, ended: null };
    this.live.set(id, conv);
    this.panes.push(conv);
    return conv;
  }

  end(conv, why, changes) {
    conv.ended = why;
    this.live.delete(conv.id);
    changes.push({ type: 'ended', conv, why });
  }

  /** The members other than us: none means the conversation is pending. */
  others(conv) {
    return conv.members.filter((m) => m !== this.me);
  }
}
