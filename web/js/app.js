// The page's state and the actions on it. Views subscribe with app.on and
// re-render what changed; nothing here touches the DOM.

import { Api, ApiError } from './api.js';
import { Live } from './live.js';
import { Timeline } from './timeline.js';
import { cmpCursor, randomID } from './dom.js';

/** pageSize is how many messages one history request asks for. */
const pageSize = 50;
/** maxCatchUpPages bounds the pages fetched to fill a gap after a reconnect. */
const maxCatchUpPages = 20;

const tokenKey = 'parley.token';

class App {
  constructor() {
    this.api = new Api();
    this.live = new Live(() => this.api.token);
    this.me = null;
    this.convs = new Map();     // conversation id -> conversation
    this.timelines = new Map(); // conversation id -> Timeline
    this.current = null;        // open conversation id
    this.notes = { list: [], unread: 0, hasOlder: false, loaded: false };
    this.handlers = new Map();
    this.readTimer = null;
    this.convsTimer = null;

    this.api.onUnauthorized = () => this.signOut('Your session has ended. Please sign in again.');
    this.live.addEventListener('event', (e) => this.onEvent(e.detail));
    this.live.addEventListener('ready', (e) => this.onReady(e.detail));
    this.live.addEventListener('state', (e) => this.emit('state', e.detail));
    this.live.addEventListener('retry', (e) => this.onRetry(e.detail));
    this.live.addEventListener('fatal', () => this.signOut('Your session has ended. Please sign in again.'));
    document.addEventListener('visibilitychange', () => this.scheduleRead());
  }

  /** on subscribes fn to a topic: session, state, convs, timeline, notes. */
  on(topic, fn) {
    if (!this.handlers.has(topic)) this.handlers.set(topic, new Set());
    this.handlers.get(topic).add(fn);
  }

  emit(topic, detail) {
    for (const fn of this.handlers.get(topic) || []) {
      try { fn(detail); } catch (err) { console.error(err); }
    }
  }

  // Session

  /** restore signs in with a stored token; it reports whether it could. */
  async restore() {
    let token = null;
    try { token = localStorage.getItem(tokenKey); } catch { /* storage disabled */ }
    if (!token || tokenExpired(token)) return false;
    this.api.token = token;
    try {
      const res = await this.api.me();
      this.start(token, res.user);
      return true;
    } catch (err) {
      this.api.token = null;
      if (err.status === 401) forgetToken();
      else if (err.status === 0) {
        // Offline at load: trust the token and let the stream retry.
        this.start(token, { id: tokenSubject(token) });
        return true;
      }
      return false;
    }
  }

  async signIn(mode, username, password) {
    const res = mode === 'register'
      ? await this.api.register(username, password)
      : await this.api.login(username, password);
    try { localStorage.setItem(tokenKey, res.token); } catch { /* not kept */ }
    this.start(res.token, res.user);
  }

  start(token, user) {
    this.api.token = token;
    this.me = user;
    this.emit('session', { user });
    this.live.start();
    this.loadConversations();
    this.loadNotifications();
  }

  signOut(reason) {
    if (!this.me) return;
    this.live.stop();
    forgetToken();
    this.api.token = null;
    this.me = null;
    this.convs.clear();
    this.timelines.clear();
    this.current = null;
    this.notes = { list: [], unread: 0, hasOlder: false, loaded: false };
    this.emit('session', { user: null, reason });
  }

  // Live events

  onReady({ resumed }) {
    // Fill any gap the stream could not (or a race the resume could not
    // cover): refresh the list and the open conversation; duplicates drop
    // out by id. Failed sends get another try.
    if (resumed) {
      this.loadConversations();
      this.loadNotifications();
      if (this.current) this.catchUp(this.current);
      this.retryFailed();
    }
  }

  async onRetry({ attempt }) {
    // A socket that keeps failing may be refused for a bad token, which a
    // browser cannot see: ask over HTTP, which signs out on 401.
    if (attempt >= 3 && attempt % 3 === 0) {
      try { await this.api.me(); } catch { /* handled by onUnauthorized */ }
    }
  }

  onEvent(e) {
    switch (e.type) {
      case 'message':
      case 'member':
        if (e.message) this.onMessage(e.message);
        break;
      case 'read':
        if (e.read) this.onRead(e.read);
        break;
      case 'notification':
        if (e.notification) this.onNotification(e.notification);
        break;
    }
  }

  onMessage(m) {
    const id = m.conversation;
    let conv = this.convs.get(id);
    if (!conv) {
      conv = convFromID(id, this.me.id);
      if (conv.kind === 'group') this.scheduleConversations(); // learn its name
      this.convs.set(id, conv);
    }
    const tl = this.timeline(id);
    const added = tl.add([m]);
    if (!added) return;

    if (m.type === 'member' && m.member && m.member.user === this.me.id) {
      const a = m.member.action;
      if (a === 'removed' || a === 'left') conv.removed = true;
      if (a === 'joined') { conv.removed = false; this.scheduleConversations(); }
    }

    if (!conv.last || cmpCursor(conv.last.cursor, m.cursor) <= 0) {
      conv.last = m;
      const mine = m.from === this.me.id;
      const seen = this.current === id && document.visibilityState === 'visible';
      if (!mine && !seen && m.type === 'message') conv.unread = (conv.unread || 0) + 1;
      if (mine) conv.unread = 0;
    }
    this.emit('convs');
    this.emit('timeline', { id, added: [m], live: true });
    if (this.current === id) this.scheduleRead();
  }

  onRead(r) {
    if (r.notification) {
      const n = this.notes.list.find((x) => x.id === r.notification);
      if (n && !n.read) { n.read = true; this.notes.unread = Math.max(0, this.notes.unread - 1); }
      this.emit('notes');
      return;
    }
    const conv = this.convs.get(r.conversation);
    if (!conv) return;
    if (r.user === this.me.id) {
      if (!conv.last || cmpCursor(r.cursor, conv.last.cursor) >= 0) conv.unread = 0;
      conv.readCursor = r.cursor;
      this.emit('convs');
    } else {
      if (!conv.peerRead || cmpCursor(conv.peerRead, r.cursor) < 0) conv.peerRead = r.cursor;
      this.emit('timeline', { id: conv.id, added: [] });
    }
  }

  onNotification(n) {
    const list = this.notes.list;
    if (list.some((x) => x.id === n.id)) return;
    // A newer notification with the same collapse key replaces an unread one.
    if (n.collapse_key) {
      const i = list.findIndex((x) => x.collapse_key === n.collapse_key && !x.read);
      if (i >= 0) { list.splice(i, 1); this.notes.unread = Math.max(0, this.notes.unread - 1); }
    }
    list.unshift(n);
    if (!n.read) this.notes.unread++;
    this.emit('notes', { fresh: n });
  }

  // Conversations

  timeline(id) {
    let tl = this.timelines.get(id);
    if (!tl) { tl = new Timeline(); this.timelines.set(id, tl); }
    return tl;
  }

  scheduleConversations() {
    clearTimeout(this.convsTimer);
    this.convsTimer = setTimeout(() => this.loadConversations(), 150);
  }

  async loadConversations() {
    let res;
    try { res = await this.api.conversations(); } catch { return; }
    const seen = new Set();
    for (const c of res.conversations || []) {
      seen.add(c.id);
      const old = this.convs.get(c.id) || {};
      const conv = { ...old, ...normalize(c, this.me.id), removed: !!old.removed };
      // Keep the newer of the two last messages: a live one may have
      // arrived after the server built this answer.
      if (old.last && (!conv.last || cmpCursor(conv.last.cursor, old.last.cursor) < 0)) conv.last = old.last;
      if (this.current === c.id && document.visibilityState === 'visible') conv.unread = 0;
      this.convs.set(c.id, conv);
    }
    // A group we are no longer in drops out of the list, unless it is open.
    for (const [id, conv] of this.convs) {
      if (!seen.has(id) && conv.kind === 'group' && id !== this.current) this.convs.delete(id);
      else if (!seen.has(id) && conv.kind === 'group') conv.removed = true;
    }
    this.convsLoaded = true;
    this.emit('convs');
  }

  /** sortedConversations returns the list, most recent activity first. */
  sortedConversations() {
    const when = (c) => (c.last ? Date.parse(c.last.sent_at) : c.created || 0);
    return [...this.convs.values()].sort((a, b) => when(b) - when(a) || a.id.localeCompare(b.id));
  }

  /** openDM opens (or starts) the conversation with a user. */
  openDM(user) {
    const id = dmID(this.me.id, user);
    if (!this.convs.has(id)) {
      this.convs.set(id, { id, kind: 'dm', peer: user, name: user, unread: 0, created: Date.now() });
      this.emit('convs');
    }
    return id;
  }

  /** open makes id the current conversation and loads its newest page. */
  async open(id) {
    this.current = id;
    this.emit('current', id);
    if (!id) return;
    const conv = this.convs.get(id);
    if (!conv) return;
    const tl = this.timeline(id);
    if (!tl.loaded) {
      try {
        const res = await this.api.history(conv, { limit: pageSize });
        const msgs = res.messages || [];
        tl.add(msgs);
        tl.loaded = true;
        tl.hasOlder = msgs.length >= pageSize;
        this.emit('timeline', { id, added: msgs, initial: true });
      } catch (err) {
        this.emit('timeline', { id, added: [], error: err });
        return;
      }
    } else if (this.live.state !== 'live') {
      this.catchUp(id);
    }
    this.scheduleRead();
  }

  /** loadOlder fetches the page before the oldest known message. */
  async loadOlder(id) {
    const conv = this.convs.get(id);
    const tl = this.timeline(id);
    if (!conv || tl.loadingOlder || !tl.hasOlder || !tl.oldest) return;
    tl.loadingOlder = true;
    this.emit('timeline', { id, added: [], older: true, loading: true });
    let msgs = [];
    let error = null;
    try {
      const res = await this.api.history(conv, { limit: pageSize, before: tl.oldest });
      msgs = res.messages || [];
      tl.hasOlder = msgs.length >= pageSize;
      tl.add(msgs);
    } catch (err) {
      error = err;
    }
    tl.loadingOlder = false;
    this.emit('timeline', { id, added: msgs, older: true, error });
  }

  /** catchUp fetches what came after the newest known message. */
  async catchUp(id) {
    const conv = this.convs.get(id);
    const tl = this.timeline(id);
    if (!conv || !tl.loaded) return;
    for (let page = 0; page < maxCatchUpPages; page++) {
      let msgs;
      try {
        const res = await this.api.history(conv, { limit: 100, after: tl.newest || undefined });
        msgs = res.messages || [];
      } catch { return; }
      if (tl.add(msgs)) this.emit('timeline', { id, added: msgs });
      if (msgs.length < 100) break;
    }
    this.scheduleRead();
  }

  /** scheduleRead marks the open conversation read, once things settle. */
  scheduleRead() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => this.markRead(), 250);
  }

  async markRead() {
    const id = this.current;
    const conv = id && this.convs.get(id);
    if (!conv || conv.removed || document.visibilityState !== 'visible') return;
    const tl = this.timeline(id);
    const cursor = tl.newest;
    if (!cursor) return;
    const hadUnread = conv.unread > 0;
    conv.unread = 0;
    if (hadUnread) this.emit('convs');
    if (conv.readCursor && cmpCursor(conv.readCursor, cursor) >= 0) return;
    conv.readCursor = cursor;
    try { await this.api.markRead(conv, cursor); } catch { conv.readCursor = null; }
  }

  // Sending

  /** send posts a message with a fresh client_id; retries reuse it. */
  send(id, body) {
    const tl = this.timeline(id);
    const p = { client_id: randomID('c-'), body, sent_at: new Date().toISOString(), status: 'sending' };
    tl.pending.set(p.client_id, p);
    this.emit('timeline', { id, added: [], pending: p });
    this.deliver(id, p);
  }

  async deliver(id, p) {
    const conv = this.convs.get(id);
    const tl = this.timeline(id);
    p.status = 'sending';
    p.error = null;
    this.emit('timeline', { id, added: [] });
    try {
      const m = await this.api.send(conv, p.body, p.client_id);
      if (m && m.id) this.onMessage({ ...m, conversation: m.conversation || id });
      tl.pending.delete(p.client_id);
      this.emit('timeline', { id, added: [] });
    } catch (err) {
      if (!tl.pending.has(p.client_id)) return; // arrived over the stream meanwhile
      p.status = 'failed';
      p.retryable = !(err instanceof ApiError) || err.status === 0 || err.status >= 500;
      p.error = err.status === 0 ? 'Not sent: no connection.' : `Not sent: ${err.message}`;
      this.emit('timeline', { id, added: [] });
    }
  }

  retry(id, clientID) {
    const p = this.timeline(id).pending.get(clientID);
    if (p) this.deliver(id, p);
  }

  retryFailed() {
    for (const [id, tl] of this.timelines) {
      for (const p of tl.pending.values()) if (p.status === 'failed' && p.retryable) this.deliver(id, p);
    }
  }

  // Groups

  async createGroup(name, members) {
    const g = await this.api.createGroup(name, members);
    const id = `group:${g.id}`;
    if (!this.convs.has(id)) {
      this.convs.set(id, { id, kind: 'group', gid: g.id, name: g.name || name, unread: 0, created: Date.now() });
    }
    this.emit('convs');
    this.scheduleConversations();
    return id;
  }

  async leaveGroup(id) {
    const conv = this.convs.get(id);
    await this.api.removeMember(conv.gid, this.me.id);
    this.convs.delete(id);
    this.timelines.delete(id);
    if (this.current === id) this.open(null);
    this.emit('convs');
  }

  // Notifications

  async loadNotifications(more = false) {
    const last = this.notes.list[this.notes.list.length - 1];
    let res;
    try {
      res = await this.api.notifications({ limit: 30, before: more && last ? last.cursor : undefined });
    } catch { return; }
    const got = res.notifications || [];
    if (more) {
      const known = new Set(this.notes.list.map((n) => n.id));
      this.notes.list.push(...got.filter((n) => !known.has(n.id)));
    } else {
      // Keep live ones that the page got before this answer.
      const ids = new Set(got.map((n) => n.id));
      const fresh = this.notes.list.filter((n) => !ids.has(n.id) && cmpCursor(n.cursor || '0', (got[0] || {}).cursor || '0') > 0);
      this.notes.list = [...fresh, ...got];
    }
    this.notes.hasOlder = got.length >= 30;
    if (typeof res.unread === 'number') this.notes.unread = res.unread;
    this.notes.loaded = true;
    this.emit('notes');
  }

  async readNotification(id) {
    const n = this.notes.list.find((x) => x.id === id);
    if (!n || n.read) return;
    n.read = true;
    this.notes.unread = Math.max(0, this.notes.unread - 1);
    this.emit('notes');
    try { await this.api.readNotification(id); } catch { /* the next load shows the truth */ }
  }

  async readAllNotifications() {
    const unread = this.notes.list.filter((n) => !n.read);
    await Promise.all(unread.map((n) => this.readNotification(n.id)));
    this.loadNotifications();
  }
}

/** dmID names the DM between two users: dm:<a>:<b>, ids sorted. */
export function dmID(a, b) {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** convFromID builds a placeholder conversation from its id alone. */
function convFromID(id, me) {
  if (id.startsWith('dm:')) {
    const [a, b] = id.slice(3).split(':');
    const peer = a === me ? b : a;
    return { id, kind: 'dm', peer, name: peer, unread: 0 };
  }
  const gid = id.replace(/^group:/, '');
  return { id, kind: 'group', gid, name: gid, unread: 0 };
}

/** normalize fills in the fields the views use from a server conversation. */
function normalize(c, me) {
  const base = convFromID(c.id, me);
  return {
    ...base, ...c,
    peer: c.peer || base.peer,
    gid: base.gid,
    name: c.kind === 'dm' ? (c.peer || base.peer) : (c.name || base.name),
    unread: c.unread || 0,
  };
}

function jwtPayload(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch { return {}; }
}

function tokenExpired(token) {
  const { exp } = jwtPayload(token);
  return typeof exp === 'number' && exp * 1000 < Date.now();
}

function tokenSubject(token) {
  return jwtPayload(token).sub || '';
}

function forgetToken() {
  try { localStorage.removeItem(tokenKey); } catch { /* nothing kept */ }
}

export const app = new App();
