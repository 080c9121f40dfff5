// app.js: the chat page's DOM and its WebSocket. The structure, for a reader:
//
//   protocol.js  the protocol and the model (`Chat`): parses each server line, keeps who is
//                online and which conversations are open, and answers every event with a
//                list of "changes" ({type: 'message', ...}, {type: 'send', line}, ...).
//   app.js       (this file) three parts:
//                1. the connection: connect, sign in, lose the server, reconnect with backoff;
//                2. RENDER: one function per change type, painting it into the DOM;
//                3. the user's actions (forms, buttons), which ask the model for changes too.
//
// Two rules hold everywhere below:
// - Text from the network goes into the page with `textContent` only, never as HTML, so
//   a message like `<img src=x onerror=...>` is shown as those characters and never runs.
//   The server's Content-Security-Policy forbids inline script as a second wall.
// - A line the page cannot understand is reported in #errors and skipped; nothing from
//   the network may throw out of the WebSocket's message handler.
//
// The element ids and classes are the contract the browser tests use (see issue 10).

import { Chat, parseLine, reconnectDelay, cut } from './protocol.js';

/** Errors kept in #errors: the latest few are what a person reads; older ones go. */
const MAX_GLOBAL_ERRORS = 5;
/** Messages kept per transcript: a long-running chat must not grow the page without end. */
const MAX_TRANSCRIPT = 5000;

const $ = (selector) => document.querySelector(selector);

/** A new element: `h('li', {class: 'message'}, child, ...)`. Strings become text nodes
 * (never HTML); `text` sets textContent; anything else becomes an attribute. Text from
 * other people gets `dir: 'auto'`, so a right-to-left name lays itself out correctly. */
function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (value === true) node.setAttribute(key, '');
    else if (value !== false && value !== undefined) node.setAttribute(key, String(value));
  }
  node.append(...children); // append() turns strings into text nodes
  return node;
}

const chat = new Chat();

// ---- 1. The connection ----

// phase: 'out' (signed out), 'signing-in' (first connection), 'in', 'lost' (retrying).
// #connection's data-state follows it: signed-out, connecting, connected (only once the
// server accepted REGISTER), lost (from the loss until signed in again, retries included).
const net = { ws: null, phase: 'out', attempt: 0, timer: null, saidGoodbye: false };

function setConnection(state, words) {
  const banner = $('#connection');
  banner.dataset.state = state;
  banner.textContent = words;
}

/** Open a WebSocket to the server that served this page; REGISTER as soon as it opens.
 * Every handler first checks that its socket is still the current one: a socket we gave
 * up on (a refused name, say) may still report its close later. */
function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let ws;
  try {
    ws = new WebSocket(`${scheme}//${location.host}/ws`);
  } catch (e) {
    // Only a malformed address throws here; treat it as a connection that failed.
    globalError(`Cannot open a WebSocket: ${e.message}`);
    closed({ code: 1006, reason: e.message });
    return;
  }
  net.ws = ws;
  ws.onopen = () => {
    if (net.ws === ws) render(chat.register(chat.typedName, chat.status));
  };
  ws.onmessage = (event) => {
    if (net.ws === ws) receive(event.data);
  };
  // An error is always followed by a close, which does the work.
  ws.onclose = (event) => {
    if (net.ws === ws) closed(event);
  };
}

/** One frame from the server = one protocol line. Never throws. */
function receive(data) {
  try {
    render(chat.apply(parseLine(data)));
  } catch (e) {
    globalError(`Skipped a line from the server (${e.message}): ${cut(String(data))}`);
  }
}

/** Send one line. Only REGISTER goes out before the server has answered it: anything else
 * would just be refused as "not registered". */
function send(line, beforeSignIn = false) {
  if (!net.ws || net.ws.readyState !== WebSocket.OPEN || !(beforeSignIn || net.phase === 'in')) {
    globalError('Not connected: wait until the page is connected again.');
    return;
  }
  net.ws.send(line);
}

function closed(event) {
  net.ws = null;
  if (net.saidGoodbye) return; // we said GOODBYE: the page is going away
  if (net.phase === 'signing-in') {
    // Never got in: the server is not there, or closed on us. Say so beside the form.
    return render(chat.closedBeforeSignIn(`${location.host} (${event.reason || `code ${event.code}`})`));
  }
  if (net.phase === 'in') {
    // The server went away (restart, crash, network): it has taken us out of every
    // conversation, so they end here too, and we try to come back.
    render(chat.connectionLost('connection lost'));
    net.attempt = 0;
  }
  if (net.phase !== 'out') scheduleReconnect();
}

function scheduleReconnect() {
  net.phase = 'lost';
  const delay = reconnectDelay(net.attempt++);
  setConnection('lost', `Connection lost; reconnecting in ${delay / 1000} s`);
  clearTimeout(net.timer);
  net.timer = setTimeout(() => {
    setConnection('lost', 'Connection lost; reconnecting now…');
    connect();
  }, delay);
}

/** Back to the sign-in form, with why beside it, and the field to fix focused (a refused
 * password is cleared: it is typed anew, never shown). */
function signedOut(why, field = 'name') {
  dropSocket();
  clearTimeout(net.timer);
  net.phase = 'out';
  setConnection('signed-out', 'Not signed in.');
  $('#signin').hidden = false;
  showText($('#signin-error'), why);
  if (field === 'password') $('#password').value = '';
  $(`#${field}`).focus();
}

/** Stop using the current socket without treating its close as a loss. */
function dropSocket() {
  const ws = net.ws;
  net.ws = null;
  if (ws) ws.close();
}

// ---- 2. Rendering the model's changes ----

function render(changes) {
  for (const change of changes) {
    try {
      RENDER[change.type](change);
    } catch (e) {
      // A bug here must not stop the rest of the changes or the next line.
      globalError(`Could not show a change (${change.type}): ${e.message}`);
    }
  }
}

/** Views of the conversations: conv.key -> {tab, pane, ...}. */
const views = new Map();

const RENDER = {
  send: ({ line, beforeSignIn }) => send(line, beforeSignIn),

  'signed-in': () => {
    net.phase = 'in';
    net.attempt = 0;
    $('#signin').hidden = true;
    $('#signin-error').hidden = true;
    $('#chat').hidden = false;
    $('#me').textContent = chat.me;
    setConnection('connected', `Connected as ${chat.me}`);
  },

  // A refused name (taken, invalid) or password, also after a reconnect (somebody took the
  // name meanwhile, the server restarted with another password), or no connection at all.
  'signin-error': ({ text, field }) => signedOut(text, field),

  me: () => {
    const input = $('#my-status');
    if (document.activeElement !== input) input.value = chat.status;
    $('#status-error').hidden = true;
  },

  users: () => {
    // Update the list in place, so ticked boxes and focus survive a presence change.
    const list = $('#users');
    const old = new Map([...list.children].map((li) => [li.dataset.name, li]));
    const names = [...chat.users.keys()].sort((a, b) => a.localeCompare(b));
    names.forEach((name, i) => {
      const li = old.get(name) ?? userItem(name);
      old.delete(name);
      li.querySelector('.status').textContent = chat.users.get(name);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
    });
    for (const li of old.values()) li.remove();
    $('#no-users').hidden = names.length > 0;
  },

  invited: ({ invitation }) => {
    const { id, from } = invitation;
    $(`#invitations .invitation[data-conv="${id}"]`)?.remove();
    // Several invitations may be shown: each button says which one it answers.
    const about = `the invitation from ${from} to conversation ${id}`;
    const accept = h('button', { type: 'button', class: 'accept', 'aria-label': `Accept ${about}` }, 'Accept');
    const decline = h('button', { type: 'button', class: 'decline', 'aria-label': `Decline ${about}` }, 'Decline');
    accept.addEventListener('click', () => render(chat.accept(id)));
    decline.addEventListener('click', () => render(chat.decline(id)));
    const item = h('div', { class: 'invitation', 'data-conv': id },
      h('p', {}, h('span', { class: 'from', dir: 'auto', text: from }), ` invites you to conversation ${id}.`),
      h('p', { class: 'actions' }, accept, ' ', decline),
      h('p', { class: 'error', role: 'alert', hidden: true }));
    $('#invitations').append(item);
    $('#no-invitations').hidden = true;
  },

  joining: ({ invitation }) => {
    const accept = invitationPart(invitation.id, '.accept');
    if (accept) accept.disabled = true;
  },

  'invitation-error': ({ invitation, text }) => {
    const error = invitationPart(invitation.id, '.error');
    if (!error) return globalError(text);
    showText(error, text);
    invitationPart(invitation.id, '.accept').disabled = invitation.dead;
    if (invitation.dead) {
      const decline = invitationPart(invitation.id, '.decline');
      decline.textContent = 'Dismiss';
      decline.setAttribute('aria-label', decline.getAttribute('aria-label').replace('Decline', 'Dismiss'));
    }
  },

  uninvited: ({ id }) => {
    invitationPart(id, '')?.remove();
    $('#no-invitations').hidden = $('#invitations').children.length > 0;
  },

  opened: ({ conv }) => openView(conv),

  members: ({ conv }) => {
    const view = views.get(conv.key);
    view.members.replaceChildren(...conv.members.map((name) =>
      h('li', { class: name === chat.me ? 'self' : '', dir: 'auto', text: name })));
    const others = chat.others(conv);
    view.pending.hidden = others.length > 0 || conv.ended !== null;
    // As imclient says: pending until somebody joins, alone once everybody else left.
    if (others.length > 0) view.joinedOnce = true;
    const invited = conv.invited.join(', ');
    view.pending.textContent = view.joinedOnce
      ? 'Alone: everybody else has left.'
      : `Pending: waiting for ${invited || 'someone'} to join…`;
    view.label.textContent = others.length ? others.join(', ')
      : !view.joinedOnce && invited ? `${invited} (pending)` : `Conversation ${conv.id}`;
  },

  message: ({ conv, from, text, own }) => {
    const { transcript } = views.get(conv.key);
    const stuck = transcript.scrollTop + transcript.clientHeight >= transcript.scrollHeight - 8;
    transcript.append(h('li', { class: own ? 'message own' : 'message' },
      h('span', { class: 'from', dir: 'auto', text: from }),
      h('span', { class: 'text', dir: 'auto', text })));
    while (transcript.children.length > MAX_TRANSCRIPT) transcript.firstElementChild.remove();
    if (stuck) transcript.scrollTop = transcript.scrollHeight; // follow, unless reading back
  },

  unread: ({ conv }) => {
    const view = views.get(conv.key);
    view.unread.textContent = String(conv.unread);
    view.unread.hidden = conv.unread === 0;
    const total = chat.panes.reduce((sum, c) => sum + c.unread, 0);
    document.title = total ? `(${total}) imchat` : 'imchat';
  },

  selected: ({ conv, focus }) => {
    for (const [key, view] of views) {
      const on = key === conv.key;
      view.tab.setAttribute('aria-selected', String(on));
      view.tab.classList.toggle('selected', on);
      view.pane.hidden = !on;
    }
    const view = views.get(conv.key);
    if (focus) (conv.ended ? view.tab : view.input).focus();
  },

  ended: ({ conv, why }) => {
    const view = views.get(conv.key);
    view.transcript.append(h('li', { class: 'notice', text: `conversation ended (${why})` }));
    view.input.disabled = view.sendButton.disabled = true;
    view.leave.textContent = 'Close';
    view.pending.hidden = true;
    view.tab.classList.add('ended');
  },

  closed: ({ conv }) => {
    const view = views.get(conv.key);
    view.tab.remove();
    view.pane.remove();
    views.delete(conv.key);
    $('#no-conversations').hidden = views.size > 0;
    if (views.size === 0) $('#start').focus();
  },

  error: ({ place, conv, text }) => {
    if (place === 'conv' && views.has(conv.key)) showText(views.get(conv.key).error, text);
    else if (place === 'status') showText($('#status-error'), text);
    else globalError(text);
  },
};

function userItem(name) {
  return h('li', { 'data-name': name },
    h('label', {},
      h('input', { type: 'checkbox', class: 'pick' }),
      h('span', { class: 'name', dir: 'auto', text: name }),
      h('span', { class: 'status', dir: 'auto' })));
}

function invitationPart(id, selector) {
  return $(`#invitations .invitation[data-conv="${id}"] ${selector}`.trim());
}

/** A conversation's tab and pane. Ids repeat after a server restart: an ended pane that
 * holds the same id is renamed so `[data-conv="<id>"]` always means the live one. */
function openView(conv) {
  for (const old of document.querySelectorAll(`#tabs [data-conv="${conv.id}"], #panes [data-conv="${conv.id}"]`)) {
    old.dataset.conv = `${conv.id}-ended`;
  }
  const tabId = `tab-${conv.key}`;
  const paneId = `pane-${conv.key}`;
  const label = h('span', { class: 'label', text: `Conversation ${conv.id}` });
  const unread = h('span', { class: 'unread', 'aria-label': 'unread messages', hidden: true }, '0');
  const tab = h('button', {
    type: 'button', class: 'tab', role: 'tab', id: tabId, 'aria-controls': paneId,
    'aria-selected': 'false', 'data-conv': conv.id,
  }, label, ' ', unread);
  tab.addEventListener('click', () => render(chat.select(conv, false)));
  tab.addEventListener('keydown', (event) => moveBetweenTabs(event, tab));

  const leave = h('button', { type: 'button', class: 'leave' }, 'Leave');
  leave.addEventListener('click', () => render(chat.close(conv)));
  const input = h('input', { class: 'compose-text', 'aria-label': 'Message', placeholder: 'Write a message, Enter sends', autocomplete: 'off' });
  const sendButton = h('button', { type: 'submit' }, 'Send');
  const compose = h('form', { class: 'compose' }, input, sendButton);
  compose.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!input.value.trim() || conv.ended) return;
    // Not shown now: it appears when the server echoes it, in the order everyone sees.
    // The text stays in the box if it could not be sent (too long, not connected).
    error.hidden = true;
    const sending = net.phase === 'in';
    render(chat.say(conv, input.value));
    if (sending && error.hidden) input.value = '';
  });
  const members = h('ul', { class: 'members', 'aria-label': 'Members' });
  const pending = h('p', { class: 'pending' });
  const transcript = h('ol', { class: 'transcript', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const pane = h('section', {
    class: 'conversation', role: 'tabpanel', id: paneId, 'aria-labelledby': tabId,
    'data-conv': conv.id, hidden: true,
  },
  h('div', { class: 'pane-head' }, h('span', { class: 'members-title' }, 'Members:'), members, leave),
  pending, transcript, error, compose);

  views.set(conv.key, { tab, pane, label, unread, members, pending, transcript, error, input, sendButton, leave, joinedOnce: false });
  $('#tabs').append(tab);
  $('#panes').append(pane);
  $('#no-conversations').hidden = true;
  RENDER.members({ conv });
}

/** Left/Right (and Home/End) move between tabs, as in every tab strip; Tab still works. */
function moveBetweenTabs(event, tab) {
  const tabs = [...document.querySelectorAll('#tabs .tab')];
  const i = tabs.indexOf(tab);
  const target = { ArrowLeft: tabs[i - 1], ArrowRight: tabs[i + 1], Home: tabs[0], End: tabs[tabs.length - 1] }[event.key];
  if (!target) return;
  event.preventDefault();
  target.focus();
  target.click();
}

function globalError(text) {
  const box = $('#errors');
  // The time tells an old error ("server shutting down") from a new one.
  box.append(h('p', { class: 'error' }, h('span', { class: 'time', text: new Date().toLocaleTimeString() }), ' ', text));
  while (box.children.length > MAX_GLOBAL_ERRORS) box.firstElementChild.remove();
}

/** Show an element (an error line) with this text. */
function showText(node, text) {
  node.textContent = text;
  node.hidden = false;
}

// ---- 3. The user's actions ----

$('#signin').addEventListener('submit', (event) => {
  event.preventDefault();
  if (net.phase === 'signing-in' || net.phase === 'in') return;
  const name = $('#name').value.trim(); // a phone keyboard may add a space after a word
  const status = $('#status').value.trim() || 'available';
  $('#signin-error').hidden = true;
  clearTimeout(net.timer);
  dropSocket();
  chat.typedName = name;
  chat.status = chat.confirmedStatus = status;
  chat.password = $('#password').value; // as typed: spaces may be part of it
  net.phase = 'signing-in';
  net.saidGoodbye = false;
  setConnection('connecting', 'Connecting…');
  connect();
});

$('#status-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const status = $('#my-status').value.trim();
  if (status) render(chat.setStatus(status));
});

$('#start').addEventListener('click', () => {
  const picks = [...document.querySelectorAll('#users .pick:checked')];
  render(chat.invite(picks.map((box) => box.closest('li').dataset.name)));
  for (const box of picks) box.checked = false;
});

// Closing the page says GOODBYE, so the others see us leave at once rather than when
// the server notices the closed socket. pagehide fires where unload may not (phones).
window.addEventListener('pagehide', () => {
  if (net.ws && net.ws.readyState === WebSocket.OPEN && net.phase === 'in') {
    net.saidGoodbye = true;
    net.ws.send('GOODBYE');
  }
});

// Back from the browser's page cache after a GOODBYE: the old session is over; sign in again.
window.addEventListener('pageshow', (event) => {
  if (!event.persisted || !net.saidGoodbye) return;
  net.saidGoodbye = false;
  dropSocket();
  render(chat.connectionLost('the page was closed'));
  net.attempt = 0;
  scheduleReconnect();
});
