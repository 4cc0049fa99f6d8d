// Timeline holds what the page knows of one conversation's messages: the
// confirmed ones, keyed by id and ordered by cursor, and the ones this page
// is still sending, keyed by client_id. Inserting the same message twice is
// a no-op, which is what makes replays and HTTP/WebSocket overlaps harmless.

import { cmpCursor } from './dom.js';

export class Timeline {
  constructor() {
    this.byID = new Map();
    this.list = [];           // confirmed messages, oldest first
    this.pending = new Map(); // client_id -> {client_id, body, sent_at, status, error}
    this.loaded = false;      // the newest page has been fetched
    this.hasOlder = true;     // older history may exist
    this.loadingOlder = false;
  }

  get oldest() { return this.list.length ? this.list[0].cursor : null; }
  get newest() { return this.list.length ? this.list[this.list.length - 1].cursor : null; }

  /** add inserts messages, skipping known ids; it returns how many were new. */
  add(messages) {
    let added = 0;
    for (const m of messages) {
      if (!m || !m.id || this.byID.has(m.id)) continue;
      this.byID.set(m.id, m);
      if (m.client_id) this.pending.delete(m.client_id);
      added++;
      const last = this.list[this.list.length - 1];
      if (!last || cmpCursor(last.cursor, m.cursor) < 0) {
        this.list.push(m);
        continue;
      }
      // Out of order (older history or a late replay): binary insert.
      let lo = 0, hi = this.list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cmpCursor(this.list[mid].cursor, m.cursor) < 0) lo = mid + 1; else hi = mid;
      }
      this.list.splice(lo, 0, m);
    }
    return added;
  }

  /** hasClient reports whether a confirmed message carries this client_id. */
  hasClient(clientID) {
    return this.list.some((m) => m.client_id === clientID);
  }
}
