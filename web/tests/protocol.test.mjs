// Checks of web/protocol.js (parsing, encoding, the model) with Node's own test runner:
// `node --test web/tests/`. No npm packages, no browser; the real page is tested in
// Chromium by the browser tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// protocol.js is an ES module for the browser, in a directory without package.json, so
// Node would read it as CommonJS; importing its text as a data: URL makes it a module.
const source = readFileSync(new URL('../protocol.js', import.meta.url), 'utf8');
const P = await import(`data:text/javascript,${encodeURIComponent(source)}`);
const { Chat, parseLine, encode, registerLine, errorSubject, findSelf, reconnectDelay, lineTooLong, ProtocolError } = P;

/** A model signed in as `me`, with these other users online. */
function signedIn(me = 'alice', others = { bob: 'available', carol: 'away' }) {
  const chat = new Chat();
  chat.register(me, 'available');
  chat.apply(parseLine(`ONLINE_USERS ${JSON.stringify({ [me]: 'available', ...others })}`));
  return chat;
}
const types = (changes) => changes.map((c) => c.type);
const feed = (chat, line) => chat.apply(parseLine(line));
const sent = (changes) => changes.filter((c) => c.type === 'send').map((c) => c.line);

test('lines are parsed per the protocol, command words without regard to case', () => {
  assert.deepEqual(parseLine('MESSAGE [7,"bob","hi all"]'), { command: 'MESSAGE', id: 7, from: 'bob', text: 'hi all' });
  assert.deepEqual(parseLine('invitation [3,"bob"]\n'), { command: 'INVITATION', id: 3, from: 'bob' });
  assert.equal(parseLine('ERROR "JOIN: not invited to conversation 7"').text, 'JOIN: not invited to conversation 7');
  const convs = parseLine('CONVERSATIONS {"2":["alice","bob"],"3":["alice"]}').convs;
  assert.deepEqual([...convs], [[2, ['alice', 'bob']], [3, ['alice']]]);
  assert.deepEqual([...parseLine('PRESENCE {"bob":null,"carol":"here"}').changes], [['bob', null], ['carol', 'here']]);
});

test('malformed lines throw ProtocolError, never anything else', () => {
  const bad = ['', 'NOPE', 'MESSAGE', 'MESSAGE [1,"a"]', 'MESSAGE [0,"a","b"]', 'MESSAGE [1.5,"a","b"]',
    'MESSAGE {not json', 'ONLINE_USERS []', 'ONLINE_USERS {"a":1}', 'PRESENCE null', 'CONVERSATIONS {"07":[]}',
    'CONVERSATIONS {"1":"alice"}', 'INVITATION [1,2]', 'ERROR 5', 'toString', '__proto__ {}', 'constructor'];
  for (const line of bad) assert.throws(() => parseLine(line), ProtocolError, line);
  assert.throws(() => parseLine(new ArrayBuffer(2)), ProtocolError);
});

test('lines are encoded as the server expects them', () => {
  assert.equal(encode('GOODBYE'), 'GOODBYE');
  assert.equal(encode('SEND_MESSAGE', [7, 'say "hi"\n']), 'SEND_MESSAGE [7,"say \\"hi\\"\\n"]');
  assert.equal(registerLine('zoë', 'here'), 'REGISTER ["zoë","here",{"presence":"changes"}]');
  assert.equal(lineTooLong(encode('SEND_MESSAGE', [1, 'x'.repeat(70 * 1024)])), true);
  assert.equal(lineTooLong(encode('SEND_MESSAGE', [1, 'x'.repeat(1000)])), false);
});

test('a server password goes in REGISTER\'s options only when one is given', () => {
  assert.equal(registerLine('alice', 'here', 's3 cret"'), 'REGISTER ["alice","here",{"presence":"changes","password":"s3 cret\\""}]');
  for (const none of [undefined, '']) {
    assert.equal(registerLine('alice', 'here', none), 'REGISTER ["alice","here",{"presence":"changes"}]');
  }
});

test('reconnect backoff doubles from 0.5 s to at most 10 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map(reconnectDelay), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
});

test('self is found in ONLINE_USERS and never listed', () => {
  const chat = signedIn('alice');
  assert.equal(chat.me, 'alice');
  assert.deepEqual([...chat.users.keys()], ['bob', 'carol']);
  assert.equal(findSelf(['Bob', 'ＡＬＩＣＥ'], 'alice'), 'ＡＬＩＣＥ');
  assert.equal(findSelf(['alice', 'Alice2'], 'alice'), 'alice');
});

test('presence changes mode and full snapshots both keep the list right', () => {
  const chat = signedIn();
  feed(chat, 'PRESENCE {"alice":"busy","bob":null,"dave":"here"}');
  assert.deepEqual([...chat.users], [['carol', 'away'], ['dave', 'here']]);
  assert.equal(chat.status, 'busy');
  feed(chat, 'ONLINE_USERS {"alice":"busy","erin":"x"}');
  assert.deepEqual([...chat.users], [['erin', 'x']]);
});

test('own INVITATION opens a pending conversation and no invitation; others get accept', () => {
  const chat = signedIn();
  const own = feed(chat, 'INVITATION [1,"alice"]');
  assert.deepEqual(types(own), ['opened', 'selected', 'unread']);
  assert.deepEqual(chat.others(chat.live.get(1)), []);
  assert.equal(chat.invitations.size, 0);
  const other = feed(chat, 'INVITATION [2,"bob"]');
  assert.deepEqual(types(other), ['invited']);
  assert.deepEqual(sent(chat.accept(2)), ['JOIN [2]']);
  const joined = feed(chat, 'CONVERSATIONS {"1":["alice"],"2":["bob","alice"]}');
  assert.deepEqual(types(joined), ['opened', 'uninvited', 'selected', 'unread']); // 1 is unchanged
  assert.equal(chat.selected.id, 2);
});

test('decline sends nothing; an ERROR for a JOIN lands in its invitation', () => {
  const chat = signedIn();
  feed(chat, 'INVITATION [4,"bob"]');
  assert.deepEqual(chat.decline(4), [{ type: 'uninvited', id: 4 }]);
  feed(chat, 'INVITATION [5,"bob"]');
  chat.accept(5);
  const [change] = feed(chat, 'ERROR "JOIN: not invited to conversation 5"');
  assert.equal(change.type, 'invitation-error');
  assert.equal(change.invitation.dead, true);
});

test('members come from CONVERSATIONS; the pending state ends when someone joins', () => {
  const chat = signedIn();
  feed(chat, 'INVITATION [1,"alice"]');
  const changes = feed(chat, 'CONVERSATIONS {"1":["alice","bob"]}');
  assert.deepEqual(types(changes), ['members']);
  assert.deepEqual(chat.others(chat.live.get(1)), ['bob']);
  assert.deepEqual(feed(chat, 'CONVERSATIONS {"1":["alice","bob"]}'), []); // nothing changed
});

test('messages: own ones only from the echo, unread counted on unselected tabs', () => {
  const chat = signedIn();
  feed(chat, 'INVITATION [1,"alice"]');
  feed(chat, 'INVITATION [2,"alice"]'); // now 2 is selected
  const conv1 = chat.live.get(1);
  assert.deepEqual(sent(chat.say(conv1, 'hi')), ['SEND_MESSAGE [1,"hi"]']);
  const echo = feed(chat, 'MESSAGE [1,"alice","hi"]');
  assert.deepEqual(types(echo), ['message', 'unread']);
  assert.equal(echo[0].own, true);
  assert.equal(conv1.unread, 1);
  chat.select(conv1);
  assert.equal(conv1.unread, 0);
  assert.deepEqual(types(feed(chat, 'MESSAGE [1,"bob","<img src=x onerror=alert(1)>"]')), ['message']);
});

test('LEAVE closes the pane; lines still on the way for it are ignored', () => {
  const chat = signedIn();
  feed(chat, 'INVITATION [1,"alice"]');
  feed(chat, 'CONVERSATIONS {"1":["alice","bob"]}');
  const changes = chat.close(chat.live.get(1));
  assert.deepEqual(sent(changes), ['LEAVE [1]']);
  assert.deepEqual(feed(chat, 'MESSAGE [1,"bob","late"]'), []);
  assert.deepEqual(feed(chat, 'CONVERSATIONS {"1":["alice","bob","carol"]}'), []); // not reopened
  assert.deepEqual(feed(chat, 'CONVERSATIONS {}'), []);
  assert.equal(chat.leaving.size, 0);
});

test('errors go where they belong', () => {
  const chat = new Chat();
  chat.register('bob', 'available');
  assert.deepEqual(types(feed(chat, 'ERROR "REGISTER: name bob is taken"')), ['signin-error']);
  const alice = signedIn();
  feed(alice, 'INVITATION [3,"alice"]');
  const [invite] = feed(alice, 'ERROR "INVITE: not invited: zed (not online)"');
  assert.equal(invite.place, 'conv');
  assert.equal(invite.conv.id, 3);
  assert.equal(feed(alice, 'ERROR "SEND_MESSAGE: not a member of conversation 3"')[0].conv.id, 3);
  assert.equal(feed(alice, 'ERROR "INVITE: in too many conversations (limit 1024)"')[0].place, 'global');
  assert.equal(feed(alice, 'ERROR "STATUS: bad status: 1 to 64 characters, no control characters"')[0].place, 'status');
  assert.equal(feed(alice, 'ERROR "server shutting down"')[0].place, 'global');
  assert.deepEqual(errorSubject('LEAVE: not a member of conversation 12'), { command: 'LEAVE', id: 12 });
});

test('a lost connection ends every conversation and keeps name and status for REGISTER', () => {
  const chat = signedIn();
  feed(chat, 'INVITATION [1,"alice"]');
  feed(chat, 'INVITATION [2,"bob"]');
  chat.setStatus('busy');
  const changes = chat.connectionLost('connection lost');
  assert.deepEqual(types(changes), ['ended', 'uninvited', 'users']);
  assert.equal(chat.live.size, 0);
  assert.equal(chat.panes.length, 1); // still readable
  assert.deepEqual(sent(chat.register(chat.typedName, chat.status)), ['REGISTER ["alice","busy",{"presence":"changes"}]']);
  // After a restart ids start again: conversation 1 is a new one, beside the ended one.
  feed(chat, 'ONLINE_USERS {"alice":"busy"}');
  feed(chat, 'INVITATION [1,"alice"]');
  assert.equal(chat.panes.length, 2);
  assert.notEqual(chat.panes[0].key, chat.panes[1].key);
});

test('the password is kept for reconnects; a wrong one is refused in the form and forgotten', () => {
  const chat = new Chat();
  chat.register('alice', 'here', 'right');
  feed(chat, 'ONLINE_USERS {"alice":"here"}');
  chat.connectionLost('connection lost');
  const again = 'REGISTER ["alice","here",{"presence":"changes","password":"right"}]';
  assert.deepEqual(sent(chat.register(chat.typedName, chat.status)), [again]);
  // The server restarted with another password: back to the form, with the password field.
  assert.deepEqual(feed(chat, 'ERROR "REGISTER: wrong password"'), [{ type: 'signin-error', text: 'REGISTER: wrong password', field: 'password' }]);
  assert.equal(chat.password, '');
  assert.deepEqual(sent(chat.register(chat.typedName, chat.status)), ['REGISTER ["alice","here",{"presence":"changes"}]']);
  // A taken name points at the name, and keeps the password.
  chat.register('alice', 'here', 'right');
  assert.equal(feed(chat, 'ERROR "REGISTER: name alice is taken"')[0].field, 'name');
  assert.equal(chat.password, 'right');
});

test('a close before sign-in goes back to the form, with a hint about bans after wrong passwords', () => {
  const chat = new Chat();
  chat.register('alice', 'here', 'guess');
  const [plain] = chat.closedBeforeSignIn('h:1 (code 1006)');
  assert.deepEqual(plain, { type: 'signin-error', text: 'Could not reach the server at h:1 (code 1006).', field: 'name' });
  feed(chat, 'ERROR "REGISTER: wrong password"');
  chat.register('alice', 'here', 'guess again');
  assert.match(chat.closedBeforeSignIn('h:1 (code 1006)')[0].text, /wrong passwords a server refuses your address/);
  feed(chat, 'ONLINE_USERS {"alice":"here"}'); // in at last: the hint is over
  assert.equal(chat.closedBeforeSignIn('h:1')[0].text, 'Could not reach the server at h:1.');
});

test('own status: shown at sign-in, then only when it changes (full snapshots repeat it)', () => {
  const chat = new Chat();
  chat.register('alice', 'here');
  assert.deepEqual(types(feed(chat, 'ONLINE_USERS {"alice":"here"}')), ['signed-in', 'me', 'users']);
  assert.deepEqual(types(feed(chat, 'ONLINE_USERS {"alice":"here","bob":"x"}')), ['users']);
  chat.setStatus('x'.repeat(65));
  feed(chat, 'ERROR "STATUS: bad status: 1 to 64 characters, no control characters"');
  assert.equal(chat.status, 'here'); // REGISTER after a reconnect uses the one everybody saw
  assert.deepEqual(types(feed(chat, 'PRESENCE {"alice":"away"}')), ['me', 'users']);
  assert.equal(chat.status, 'away');
});

test('a pending conversation knows whom its INVITE asked, even after a refused INVITE', () => {
  const chat = signedIn();
  chat.invite(['bob']);
  chat.invite(['carol', 'zed']);
  chat.invite(['dave']);
  feed(chat, 'INVITATION [1,"alice"]');
  feed(chat, 'INVITATION [2,"alice"]');
  feed(chat, 'ERROR "INVITE: not invited: zed (not online)"');
  feed(chat, 'ERROR "INVITE: in too many conversations (limit 1024)"'); // dave's: no conversation
  chat.invite(['erin']);
  feed(chat, 'INVITATION [3,"alice"]');
  assert.deepEqual([1, 2, 3].map((id) => chat.live.get(id).invited), [['bob'], ['carol', 'zed'], ['erin']]);
});
