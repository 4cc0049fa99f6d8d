// The live stream: one WebSocket to /v1/ws that reconnects with backoff and
// resumes from the last stream cursor it saw, so no event is lost or
// repeated across a reconnect. The server may still repeat an event in a
// race (or the page may have fetched it over HTTP already); the views
// de-duplicate messages by id as a second line of defence.

/** Connection states, shown to the user. */
export const State = Object.freeze({
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  offline: 'offline',
});

const minBackoff = 500;
const maxBackoff = 15000;
/** pingEvery keeps idle proxies from closing the socket and notices a dead one. */
const pingEvery = 25000;
/** openTimeout gives up on a handshake that neither opens nor fails. */
const openTimeout = 10000;

/**
 * Live emits 'event' (detail: one server event), 'state' (detail: a State
 * value) and 'fatal' (detail: close code) when the server says not to
 * reconnect, such as 4401 for an expired token.
 */
export class Live extends EventTarget {
  constructor(tokenFn) {
    super();
    this.tokenFn = tokenFn;
    this.stream = null;   // last stream cursor seen
    this.state = State.connecting;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.refs = 0;
    this.pending = new Map(); // ref -> {resolve, reject}
    this.everLive = false;
    this.onOnline = () => { if (!this.stopped && this.state !== State.live) this.reconnectNow(); };
  }

  /** start opens the stream; events before now are not replayed. */
  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.open();
  }

  /** stop closes the stream for good (sign out). */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
    this.stream = null;
    this.everLive = false;
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: s }));
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ token: this.tokenFn() });
    if (this.stream) q.set('stream', this.stream);
    return `${proto}//${location.host}/v1/ws?${q}`;
  }

  open() {
    clearTimeout(this.timer);
    this.setState(this.everLive ? State.reconnecting : State.connecting);
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    const guard = setTimeout(() => { if (ws.readyState === WebSocket.CONNECTING) ws.close(); }, openTimeout);

    ws.onopen = () => {
      clearTimeout(guard);
      clearInterval(this.pinger);
      // A ping with no answer means a dead socket: close it to reconnect.
      this.pinger = setInterval(() => {
        this.call({ type: 'ping' }).catch(() => { if (ws === this.ws) ws.close(); });
      }, pingEvery);
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      for (const line of String(ev.data).split('\n')) {
        if (!line.trim()) continue;
        let e;
        try { e = JSON.parse(line); } catch { continue; }
        this.handle(e);
      }
    };
    ws.onclose = (ev) => {
      clearTimeout(guard);
      if (ws !== this.ws) return;
      clearInterval(this.pinger);
      this.ws = null;
      for (const p of this.pending.values()) p.reject(new Error('connection closed'));
      this.pending.clear();
      if (this.stopped) return;
      if (ev.code >= 4400 && ev.code <= 4499) {
        this.setState(State.offline);
        this.dispatchEvent(new CustomEvent('fatal', { detail: ev.code }));
        return;
      }
      this.scheduleReconnect();
    };
  }

  handle(e) {
    if (e.ref && this.pending.has(e.ref)) {
      const p = this.pending.get(e.ref);
      this.pending.delete(e.ref);
      if (e.type === 'error') p.reject(Object.assign(new Error(e.message || e.code), { code: e.code }));
      else p.resolve(e);
      return;
    }
    if (e.stream) this.stream = e.stream;
    if (e.type === 'ready') {
      this.attempt = 0;
      const resumed = this.everLive;
      this.everLive = true;
      this.setState(State.live);
      this.dispatchEvent(new CustomEvent('ready', { detail: { resumed } }));
      return;
    }
    this.dispatchEvent(new CustomEvent('event', { detail: e }));
  }

  scheduleReconnect() {
    this.setState(this.everLive ? State.reconnecting : State.connecting);
    const base = Math.min(maxBackoff, minBackoff * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * base / 2;
    this.attempt++;
    this.dispatchEvent(new CustomEvent('retry', { detail: { attempt: this.attempt, delay } }));
    this.timer = setTimeout(() => this.open(), delay);
  }

  reconnectNow() {
    clearTimeout(this.timer);
    if (this.ws) return;
    this.open();
  }

  /** call sends a client frame and resolves with the server's reply to it. */
  call(frame) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      const ref = `r${++this.refs}`;
      this.pending.set(ref, { resolve, reject });
      setTimeout(() => {
        if (this.pending.delete(ref)) reject(new Error('no reply'));
      }, 10000);
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }
}
