// The notification bell's inbox: newest first, unread marked, a click marks
// one read. New ones also pop up briefly as a toast.

import { app } from './app.js';
import { $, h, ago, fullTime, toast } from './dom.js';

function noteNode(n) {
  const prio = n.priority && n.priority !== 'normal' ? n.priority : null;
  return h('li', null, h('button', {
    type: 'button',
    class: `note${n.read ? '' : ' unread'}`,
    dataset: { id: n.id },
    'aria-label': `${n.read ? '' : 'Unread: '}${n.title ? `${n.title}. ` : ''}${n.body}`,
    onclick: () => app.readNotification(n.id),
  },
  h('span', { class: 'note-dot', 'aria-hidden': 'true' }),
  h('span', null,
    n.title ? h('span', { class: 'note-title' }, n.title) : null,
    h('p', { class: 'note-body' }, n.body),
    h('span', { class: 'note-meta' },
      prio ? h('span', { class: `prio prio-${prio}` }, prio) : null,
      h('time', { datetime: n.created_at, title: fullTime(n.created_at) }, ago(n.created_at))))));
}

function render(e) {
  const { list, unread, hasOlder, loaded } = app.notes;
  $('inbox-list').replaceChildren(...list.map(noteNode));
  $('inbox-empty').hidden = !loaded || list.length > 0;
  $('inbox-more').hidden = !hasOlder;
  $('inbox-read-all').hidden = unread === 0;
  if (e && e.fresh && !$('inbox').matches(':popover-open')) {
    toast(e.fresh.title || 'New notification', e.fresh.body);
  }
}

export function initInbox() {
  app.on('notes', render);
  app.on('session', () => render());
  $('inbox-read-all').addEventListener('click', () => app.readAllNotifications());
  $('inbox-more').addEventListener('click', () => app.loadNotifications(true));
  $('inbox').addEventListener('toggle', (ev) => {
    $('bell').setAttribute('aria-expanded', ev.newState === 'open' ? 'true' : 'false');
    if (ev.newState === 'open') render();
  });
}
