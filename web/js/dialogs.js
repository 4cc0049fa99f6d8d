// Dialogs: start a DM, create a group, a group's details. Each is a native
// <dialog> opened modally, which traps focus and closes on Escape.

import { app } from './app.js';
import { $, h, avatar, icon } from './dom.js';

const closeIcon = 'M18 6 6 18M6 6l12 12';

/**
 * picker wires a search box to a list of users found by prefix. onPick gets
 * a user id; exclude() returns ids to leave out. Arrow keys move through the
 * results and Enter picks; an exact username typed in full can be picked
 * with Enter even before the results come.
 */
function picker(root, { onPick, exclude = () => new Set() }) {
  const input = root.querySelector('input');
  const list = root.querySelector('[role=listbox]');
  const note = root.querySelector('.picker-note');
  let results = [];
  let active = -1;
  let seq = 0;
  let timer = null;

  function render() {
    list.replaceChildren(...results.map((u, i) => {
      const li = h('li', {
        id: `${list.id}-${i}`, role: 'option', class: 'option',
        'aria-selected': i === active ? 'true' : 'false',
        onmousedown: (ev) => ev.preventDefault(),
        onclick: () => pick(u),
      }, avatar(u, { size: 'avatar-xs' }), h('span', null, u));
      return li;
    }));
    input.setAttribute('aria-expanded', results.length ? 'true' : 'false');
    if (active >= 0) input.setAttribute('aria-activedescendant', `${list.id}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function pick(u) {
    input.value = '';
    results = []; active = -1;
    note.textContent = '';
    render();
    onPick(u);
  }

  async function search() {
    const q = input.value.trim().toLowerCase();
    const mine = ++seq;
    if (!q) { results = []; active = -1; note.textContent = ''; render(); return; }
    let users = [];
    try {
      const res = await app.api.users(q);
      users = (res.users || []).map((u) => (typeof u === 'string' ? u : u.id || u.username)).filter(Boolean);
    } catch {
      if (mine === seq) note.textContent = 'Search is unavailable right now.';
      return;
    }
    if (mine !== seq) return;
    const skip = exclude();
    results = users.filter((u) => u !== app.me.id && !skip.has(u)).slice(0, 8);
    active = results.length ? 0 : -1;
    note.textContent = results.length ? '' : `No one found for “${q}”.`;
    render();
  }

  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 120); });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' && results.length) { active = (active + 1) % results.length; render(); ev.preventDefault(); }
    else if (ev.key === 'ArrowUp' && results.length) { active = (active - 1 + results.length) % results.length; render(); ev.preventDefault(); }
    else if (ev.key === 'Enter') {
      ev.preventDefault();
      const typed = input.value.trim().toLowerCase();
      if (active >= 0 && results[active]) pick(results[active]);
      else if (typed && results.includes(typed)) pick(typed);
    }
  });

  return {
    reset() { input.value = ''; results = []; active = -1; note.textContent = ''; render(); },
    input,
  };
}

// New direct message

let dmPicker;

export function openNewDM() {
  dmPicker.reset();
  $('dlg-dm').showModal();
  dmPicker.input.focus();
}

// New group

let groupPicker;
let chosen = [];

function renderChips() {
  $('group-chips').replaceChildren(...chosen.map((u) => h('li', { class: 'chip' }, u,
    h('button', {
      type: 'button', 'aria-label': `Remove ${u}`,
      onclick: () => { chosen = chosen.filter((x) => x !== u); renderChips(); groupPicker.input.focus(); },
    }, icon(closeIcon)))));
}

export function openNewGroup() {
  chosen = [];
  renderChips();
  groupPicker.reset();
  $('group-name').value = '';
  $('group-error').textContent = '';
  $('dlg-group').showModal();
  $('group-name').focus();
}

// Group details

let infoPicker;
let infoID = null;

export async function openGroupInfo(id) {
  const conv = app.convs.get(id);
  if (!conv || conv.kind !== 'group') return;
  infoID = id;
  infoPicker.reset();
  $('info-error').textContent = '';
  renderInfo(conv);
  if (!$('dlg-info').open) $('dlg-info').showModal();
  await refreshInfo();
}

async function refreshInfo() {
  const conv = app.convs.get(infoID);
  if (!conv) return;
  try {
    const g = await app.api.group(conv.gid);
    conv.members = g.members || [];
    conv.owner = g.owner;
    renderInfo(conv);
  } catch (err) {
    $('info-error').textContent = err.message;
  }
}

function myRole(conv) {
  const me = (conv.members || []).find((m) => m.user === app.me.id);
  return me ? me.role : 'member';
}

function renderInfo(conv) {
  const members = conv.members || [];
  $('info-name').textContent = conv.name;
  $('info-sub').textContent = members.length ? `${members.length} members` : 'Group';
  const role = myRole(conv);
  const manager = role === 'owner' || role === 'admin';
  $('info-add').hidden = !manager;

  const order = { owner: 0, admin: 1, member: 2 };
  const sorted = [...members].sort((a, b) => (order[a.role] ?? 3) - (order[b.role] ?? 3) || a.user.localeCompare(b.user));
  $('info-members').replaceChildren(...sorted.map((m) => {
    const canRemove = manager && m.user !== app.me.id && m.role !== 'owner';
    return h('li', { class: 'member', dataset: { user: m.user } },
      avatar(m.user, { size: 'avatar-sm' }),
      h('span', { class: 'member-name' }, m.user === app.me.id ? `${m.user} (you)` : m.user),
      m.role !== 'member' ? h('span', { class: 'role' }, m.role) : null,
      canRemove ? h('button', {
        type: 'button', class: 'btn btn-danger', 'aria-label': `Remove ${m.user} from the group`,
        onclick: () => removeMember(conv, m.user),
      }, 'Remove') : null);
  }));
}

async function removeMember(conv, user) {
  $('info-error').textContent = '';
  try {
    await app.api.removeMember(conv.gid, user);
    conv.members = (conv.members || []).filter((m) => m.user !== user);
    renderInfo(conv);
  } catch (err) {
    $('info-error').textContent = err.message;
  }
}

async function addMember(user) {
  const conv = app.convs.get(infoID);
  $('info-error').textContent = '';
  try {
    await app.api.addMember(conv.gid, user);
    await refreshInfo();
  } catch (err) {
    $('info-error').textContent = err.message;
  }
}

export function initDialogs() {
  for (const dlg of document.querySelectorAll('dialog')) {
    for (const b of dlg.querySelectorAll('[data-close]')) b.addEventListener('click', () => dlg.close());
    // A click on the backdrop (the dialog box itself, outside its body) closes it.
    dlg.addEventListener('click', (ev) => { if (ev.target === dlg) dlg.close(); });
  }

  dmPicker = picker($('dlg-dm').querySelector('.picker'), {
    onPick: (u) => {
      $('dlg-dm').close();
      const id = app.openDM(u);
      location.hash = `#/c/${encodeURIComponent(id)}`;
      setTimeout(() => $('compose').focus(), 0);
    },
  });

  groupPicker = picker($('dlg-group').querySelector('.picker'), {
    onPick: (u) => { if (!chosen.includes(u)) chosen.push(u); renderChips(); },
    exclude: () => new Set(chosen),
  });
  $('group-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('group-name').value.trim();
    if (!name) { $('group-error').textContent = 'Give the group a name.'; $('group-name').focus(); return; }
    const submit = ev.submitter || $('group-form').querySelector('[type=submit]');
    submit.disabled = true;
    try {
      const id = await app.createGroup(name, chosen);
      $('dlg-group').close();
      location.hash = `#/c/${encodeURIComponent(id)}`;
      setTimeout(() => $('compose').focus(), 0);
    } catch (err) {
      $('group-error').textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });

  infoPicker = picker($('info-add'), {
    onPick: addMember,
    exclude: () => new Set((app.convs.get(infoID)?.members || []).map((m) => m.user)),
  });
  $('info-leave').addEventListener('click', async () => {
    const conv = app.convs.get(infoID);
    if (!conv || !confirm(`Leave “${conv.name}”? You will stop getting its messages.`)) return;
    try {
      await app.leaveGroup(infoID);
      $('dlg-info').close();
      location.hash = '';
    } catch (err) {
      $('info-error').textContent = err.message;
    }
  });

  // Live membership changes refresh the open details.
  app.on('timeline', (e) => {
    if ($('dlg-info').open && e.id === infoID && e.added.some((m) => m.type === 'member')) refreshInfo();
  });

  $('new-dm').addEventListener('click', openNewDM);
  $('new-group').addEventListener('click', openNewGroup);
}
