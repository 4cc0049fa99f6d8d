// The left column: the header (connection state, bell, theme, account) and
// the conversation list, updated in place so focus stays where it was.

import { app } from './app.js';
import { $, h, avatar, shortWhen, fullTime } from './dom.js';

const stateText = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

const items = new Map(); // conversation id -> <li>

/** preview is the one-line summary of a conversation's last message. */
export function preview(conv) {
  const m = conv.last;
  if (!m) return conv.kind === 'group' ? 'No messages yet' : 'Say hello';
  if (m.type === 'member') return memberText(m);
  const who = m.from === app.me.id ? 'You: ' : conv.kind === 'group' ? `${m.from}: ` : '';
  return who + m.body.replace(/\s+/g, ' ');
}

/** memberText describes a membership change in words. */
export function memberText(m) {
  const you = (u) => (u === app.me.id ? 'you' : u);
  const { user, action, role } = m.member || {};
  const by = m.from === app.me.id ? 'You' : m.from;
  switch (action) {
    case 'joined':
      if (m.from && m.from !== user) return `${by} added ${you(user)}`;
      return role === 'owner' ? `${cap(you(user))} created the group` : `${cap(you(user))} joined`;
    case 'removed': return `${by} removed ${you(user)}`;
    case 'left': return `${cap(you(user))} left`;
    case 'role': return `${by} made ${you(user)} ${role === 'admin' ? 'an admin' : `a ${role}`}`;
    default: return 'Membership changed';
  }
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

function renderItem(li, conv) {
  const unread = conv.unread > 0 && conv.id !== app.current;
  const label = [
    conv.kind === 'group' ? `Group ${conv.name}` : conv.name,
    unread ? `${conv.unread} unread` : null,
    conv.last ? preview(conv) : null,
  ].filter(Boolean).join(', ');

  const button = h('button', {
    type: 'button',
    class: `conv${unread ? ' unread' : ''}`,
    'aria-current': conv.id === app.current ? 'true' : null,
    'aria-label': label,
    dataset: { conv: conv.id },
    onclick: () => { location.hash = `#/c/${encodeURIComponent(conv.id)}`; },
  },
  avatar(conv.name, { group: conv.kind === 'group' }),
  h('span', { class: 'conv-main' },
    h('span', { class: 'conv-top' },
      h('span', { class: 'conv-name' }, conv.name),
      conv.last ? h('time', { class: 'conv-time', datetime: conv.last.sent_at, title: fullTime(conv.last.sent_at) },
        shortWhen(conv.last.sent_at)) : null),
    h('span', { class: 'conv-last' }, preview(conv))),
  unread ? h('span', { class: 'unread-count', 'aria-hidden': 'true' }, conv.unread > 99 ? '99+' : String(conv.unread)) : null);

  // Swap the button, keeping keyboard focus on it if it had it.
  const hadFocus = li.contains(document.activeElement);
  li.replaceChildren(button);
  if (hadFocus) button.focus();
}

export function renderConversations() {
  if (!app.me) return;
  const filter = $('conv-filter').value.trim().toLowerCase();
  const list = $('conv-list');
  const convs = app.sortedConversations().filter((c) => !filter || c.name.toLowerCase().includes(filter));

  let cur = list.firstElementChild;
  const keep = new Set();
  for (const conv of convs) {
    let li = items.get(conv.id);
    if (!li) { li = h('li'); items.set(conv.id, li); }
    renderItem(li, conv);
    keep.add(li);
    if (li === cur) { cur = cur.nextElementSibling; continue; }
    list.insertBefore(li, cur);
  }
  for (const li of [...list.children]) if (!keep.has(li)) li.remove();
  for (const [id, li] of items) if (!app.convs.has(id)) items.delete(id);

  $('conv-empty').hidden = !(app.convsLoaded && app.convs.size === 0);

  const unread = [...app.convs.values()].reduce((n, c) => n + (c.id === app.current ? 0 : c.unread || 0), 0);
  const notes = app.notes.unread;
  document.title = (unread + notes ? `(${unread + notes}) ` : '') + 'Parley';
}

function renderState(state) {
  $('conn').dataset.state = state;
  $('conn-text').textContent = stateText[state] || state;
}

function renderBell() {
  const n = app.notes.unread;
  const badge = $('bell-count');
  badge.hidden = n === 0;
  badge.textContent = n > 99 ? '99+' : String(n);
  $('bell').setAttribute('aria-label', n ? `Notifications, ${n} unread` : 'Notifications');
}

// Theme: the toggle flips between light and dark; the menu can go back to
// following the system.

function effectiveTheme() {
  const t = document.documentElement.dataset.theme;
  if (t) return t;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function setTheme(t) {
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
  try {
    if (t) localStorage.setItem('parley.theme', t); else localStorage.removeItem('parley.theme');
  } catch { /* not kept */ }
  renderThemeButton();
}

function renderThemeButton() {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  $('theme-toggle').setAttribute('aria-label', `Switch to ${next} theme`);
  $('theme-toggle').title = `Switch to ${next} theme`;
}

export function initSidebar() {
  app.on('convs', renderConversations);
  app.on('current', renderConversations);
  app.on('state', renderState);
  app.on('notes', renderBell);
  app.on('notes', renderConversations);
  app.on('session', ({ user }) => {
    if (!user) { items.clear(); $('conv-list').replaceChildren(); return; }
    $('me-name').textContent = user.id;
    $('me-avatar').replaceWith(Object.assign(avatar(user.id, { size: 'avatar-sm' }), { id: 'me-avatar' }));
    $('me-button').setAttribute('aria-label', `Account: ${user.id}`);
    renderState(app.live.state);
    renderBell();
  });

  $('conv-filter').addEventListener('input', renderConversations);
  $('theme-toggle').addEventListener('click', () => setTheme(effectiveTheme() === 'dark' ? 'light' : 'dark'));
  $('theme-system').addEventListener('click', () => { setTheme(null); $('account').hidePopover(); });
  $('logout').addEventListener('click', () => { $('account').hidePopover(); app.signOut(); });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', renderThemeButton);
  renderThemeButton();

  // Keep relative times fresh.
  setInterval(renderConversations, 60000);
}
