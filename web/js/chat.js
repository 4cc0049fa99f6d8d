// The open conversation: header, message list with scroll-back, composer.
// Message nodes are kept by key and moved, never rebuilt, so a screen
// reader's log announces only what is really new.

import { app } from './app.js';
import { $, h, avatar, clock, fullTime, dayKey, dayLabel, cmpCursor } from './dom.js';
import { memberText } from './sidebar.js';
import { openGroupInfo } from './dialogs.js';

/** runGap is how far apart two messages may be and still read as one run. */
const runGap = 5 * 60 * 1000;
/** nearEdge is how close to an edge (in pixels) counts as being at it. */
const nearEdge = 80;

let shownID = null;
let nodes = new Map(); // key -> element

function scroller() { return $('scroller'); }

function atBottom() {
  const s = scroller();
  return s.scrollHeight - s.scrollTop - s.clientHeight < nearEdge;
}

function scrollToBottom() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
  $('jump').hidden = true;
}

// Header

async function renderHeader(conv) {
  $('chat-name').textContent = conv.name;
  $('chat-avatar').replaceWith(Object.assign(avatar(conv.name, { group: conv.kind === 'group' }), { id: 'chat-avatar' }));
  $('group-info').hidden = conv.kind !== 'group' || conv.removed;
  $('chat-sub').textContent = conv.kind === 'group'
    ? (conv.members ? `${conv.members.length} members · ${conv.members.map((m) => m.user).join(', ')}` : 'Group')
    : 'Direct message';
  const removed = !!conv.removed;
  $('composer').hidden = removed;
  $('composer-note').hidden = !removed;
  $('composer-note').textContent = removed ? 'You are no longer a member of this group.' : '';
}

async function loadMembers(conv) {
  if (conv.kind !== 'group' || conv.removed) return;
  try {
    const g = await app.api.group(conv.gid);
    conv.members = g.members || [];
    if (g.name) conv.name = g.name;
    if (app.current === conv.id) renderHeader(conv);
  } catch (err) {
    if (err.status === 403 || err.status === 404) { conv.removed = true; renderHeader(conv); }
  }
}

// Messages

function messageNode(m, conv) {
  if (m.type === 'member') {
    return h('li', { class: 'event', dataset: { id: m.id, cursor: m.cursor } },
      memberText(m), ' · ', h('time', { datetime: m.sent_at, title: fullTime(m.sent_at) }, clock(m.sent_at)));
  }
  const mine = m.from === app.me.id;
  return h('li', {
    class: `msg${mine ? ' mine' : ''}`,
    dataset: { id: m.id, cursor: m.cursor, from: m.from },
  },
  avatar(m.from),
  h('div', { class: 'msg-body' },
    conv.kind === 'group' && !mine ? h('span', { class: 'author', 'aria-hidden': 'true' }, m.from) : null,
    h('div', { class: 'bubble' },
      h('span', { class: 'sr-only' }, mine ? 'You said: ' : `${m.from} said: `),
      h('span', { class: 'text' }, m.body),
      h('time', { class: 'msg-time', datetime: m.sent_at, title: fullTime(m.sent_at) }, clock(m.sent_at)))));
}

function pendingNode(p, id) {
  const failed = p.status === 'failed';
  return h('li', { class: `msg mine ${failed ? 'failed' : 'pending'}`, dataset: { client: p.client_id } },
    h('div', { class: 'msg-body' },
      h('div', { class: 'bubble' },
        h('span', { class: 'sr-only' }, 'You said: '),
        h('span', { class: 'text' }, p.body),
        h('time', { class: 'msg-time', datetime: p.sent_at }, clock(p.sent_at))),
      h('span', { class: 'msg-state', role: failed ? 'alert' : null },
        failed ? p.error : 'Sending…',
        failed && p.retryable !== false
          ? h('button', { type: 'button', class: 'link', onclick: () => app.retry(id, p.client_id) }, 'Retry')
          : null)));
}

function dayNode(iso) {
  return h('li', { class: 'day', role: 'separator' }, dayLabel(iso));
}

function seenNode() {
  return h('li', { class: 'seen', 'aria-label': 'Seen' }, 'Seen');
}

/** desired lists the nodes the open conversation should show, in order. */
function desired(conv, tl) {
  const out = [];
  let prev = null;
  let lastMineSeen = null;
  for (const m of tl.list) {
    const dk = dayKey(m.sent_at);
    if (!prev || dayKey(prev.sent_at) !== dk) {
      const key = `d:${dk}`;
      if (!nodes.has(key)) nodes.set(key, dayNode(m.sent_at));
      out.push(nodes.get(key));
      prev = null;
    }
    const key = `m:${m.id}`;
    if (!nodes.has(key)) nodes.set(key, messageNode(m, conv));
    const el = nodes.get(key);
    if (m.type === 'message') {
      const cont = prev && prev.type === 'message' && prev.from === m.from &&
        Date.parse(m.sent_at) - Date.parse(prev.sent_at) < runGap;
      el.classList.toggle('cont', !!cont);
      if (cont) out[out.length - 1].classList.remove('last-of-run');
      el.classList.add('last-of-run');
      if (m.from === app.me.id && conv.peerRead && cmpCursor(m.cursor, conv.peerRead) <= 0) lastMineSeen = el;
    }
    out.push(el);
    prev = m;
  }
  if (lastMineSeen && conv.kind === 'dm') {
    const i = out.indexOf(lastMineSeen);
    // Only show "Seen" if nothing of the peer's follows it.
    const after = out.slice(i + 1).some((el) => el.dataset.from && el.dataset.from !== app.me.id);
    if (!after) {
      if (!nodes.has('seen')) nodes.set('seen', seenNode());
      out.splice(i + 1, 0, nodes.get('seen'));
    }
  }
  for (const p of tl.pending.values()) out.push(pendingNode(p, conv.id));
  return out;
}

function renderMessages({ older = false, live = false, initial = false } = {}) {
  const id = app.current;
  const conv = app.convs.get(id);
  if (!conv) return;
  const tl = app.timeline(id);
  const list = $('msg-list');
  const s = scroller();

  const wasAtBottom = atBottom();
  const prevHeight = s.scrollHeight;
  const prevTop = s.scrollTop;
  // History is not news: keep the live region quiet while it goes in.
  const quiet = older || initial;
  if (quiet) list.setAttribute('aria-live', 'off');

  let cur = list.firstElementChild;
  const want = desired(conv, tl);
  for (const el of want) {
    if (el === cur) { cur = cur.nextElementSibling; continue; }
    list.insertBefore(el, cur);
  }
  while (cur) { const next = cur.nextElementSibling; cur.remove(); cur = next; }

  if (quiet) setTimeout(() => list.setAttribute('aria-live', 'polite'), 50);

  if (older) {
    s.scrollTop = prevTop + (s.scrollHeight - prevHeight);
  } else if (initial || wasAtBottom) {
    scrollToBottom();
  } else if (live) {
    $('jump').hidden = false;
  }

  const status = $('history-status');
  if (tl.loadingOlder) status.textContent = 'Loading older messages…';
  else if (tl.loaded && !tl.hasOlder) status.textContent = tl.list.length ? 'This is the beginning of the conversation.' : '';
  else status.textContent = '';

  // Fill the screen: a short first page leaves nothing to scroll.
  if (tl.loaded && tl.hasOlder && !tl.loadingOlder && s.scrollHeight <= s.clientHeight + 10) app.loadOlder(id);
}

function show(id) {
  const conv = id && app.convs.get(id);
  $('chat-empty').hidden = !!conv;
  $('chat-view').hidden = !conv;
  $('shell').dataset.view = conv ? 'chat' : 'list';
  if (!conv) { shownID = null; return; }

  if (shownID !== id) {
    shownID = id;
    nodes = new Map();
    $('msg-list').replaceChildren();
    $('msg-list').dataset.kind = conv.kind;
    $('history-status').textContent = 'Loading…';
    $('jump').hidden = true;
    $('compose').value = drafts.get(id) || '';
    autosize();
  }
  renderHeader(conv);
  renderMessages({ initial: true });
  loadMembers(conv);
  document.title = `${conv.name} · Parley`;
}

// Composer

const drafts = new Map();

function autosize() {
  const t = $('compose');
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight, 180)}px`;
  $('send').disabled = !t.value.trim();
}

function submit() {
  const t = $('compose');
  const body = t.value.trim();
  if (!body || !app.current) return;
  t.value = '';
  drafts.delete(app.current);
  autosize();
  app.send(app.current, body);
  scrollToBottom();
}

export function initChat() {
  app.on('current', (id) => show(id));
  app.on('convs', () => {
    const conv = app.current && app.convs.get(app.current);
    if (conv) renderHeader(conv);
  });
  app.on('timeline', (e) => {
    if (e.id !== app.current) return;
    if (e.error && !e.older) $('history-status').textContent = 'Could not load messages. Check the connection.';
    renderMessages({ older: !!e.older, live: !!e.live, initial: !!e.initial });
    if (e.id && e.added.some((m) => m.type === 'member')) {
      const conv = app.convs.get(e.id);
      if (conv) loadMembers(conv);
    }
  });

  scroller().addEventListener('scroll', () => {
    if (scroller().scrollTop < nearEdge && app.current) app.loadOlder(app.current);
    if (atBottom()) $('jump').hidden = true;
  }, { passive: true });
  $('jump').addEventListener('click', () => { scrollToBottom(); $('compose').focus(); });

  const t = $('compose');
  t.addEventListener('input', () => { drafts.set(app.current, t.value); autosize(); });
  t.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); submit(); t.focus(); });

  $('back').addEventListener('click', () => { location.hash = ''; });
  $('group-info').addEventListener('click', () => openGroupInfo(app.current));
  autosize();
}
