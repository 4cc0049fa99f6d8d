// The HTTP side of Parley's protocol (docs/protocol.md): one fetch wrapper
// that adds the token and turns error bodies into ApiError.

/** ApiError is a failed request: an HTTP status and the server's error code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

/** requestTimeout bounds one HTTP request so a stalled server cannot hang the UI. */
const requestTimeout = 15000;

/** Api talks to one Parley server as one user. */
export class Api {
  constructor() {
    this.token = null;
    /** onUnauthorized is called when the server rejects the token. */
    this.onUnauthorized = () => {};
  }

  /**
   * request sends a JSON request and returns the decoded answer (null for
   * 204). A network failure throws ApiError with status 0.
   */
  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers.Authorization = `Bearer ${this.token}`;

    let res;
    try {
      res = await fetch(path, {
        method, headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(requestTimeout),
      });
    } catch (err) {
      throw new ApiError(0, 'network', 'The server cannot be reached.');
    }

    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    if (!res.ok) {
      const e = data && data.error;
      if (res.status === 401 && this.token) this.onUnauthorized();
      throw new ApiError(res.status, e && e.code, e && e.message);
    }
    return data;
  }

  get(path) { return this.request('GET', path); }
  post(path, body = {}) { return this.request('POST', path, body); }
  del(path) { return this.request('DELETE', path); }

  register(username, password) { return this.post('/v1/auth/register', { username, password }); }
  login(username, password) { return this.post('/v1/auth/login', { username, password }); }
  me() { return this.get('/v1/me'); }
  users(prefix) { return this.get(`/v1/users?prefix=${encodeURIComponent(prefix)}`); }
  conversations() { return this.get('/v1/conversations'); }

  /** history pages a conversation: opts holds limit and before or after. */
  history(conv, opts = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts)) if (v != null) q.set(k, v);
    return this.get(`${convPath(conv)}/messages?${q}`);
  }
  send(conv, body, clientID) {
    return this.post(`${convPath(conv)}/messages`, { body, client_id: clientID });
  }
  markRead(conv, cursor) { return this.post(`${convPath(conv)}/read`, { cursor }); }

  group(id) { return this.get(`/v1/groups/${encodeURIComponent(id)}`); }
  createGroup(name, members) { return this.post('/v1/groups', { name, members }); }
  addMember(id, user) { return this.post(`/v1/groups/${encodeURIComponent(id)}/members`, { user }); }
  removeMember(id, user) {
    return this.del(`/v1/groups/${encodeURIComponent(id)}/members/${encodeURIComponent(user)}`);
  }

  notifications(opts = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts)) if (v != null) q.set(k, v);
    return this.get(`/v1/notifications?${q}`);
  }
  readNotification(id) { return this.post(`/v1/notifications/${encodeURIComponent(id)}/read`); }
}

/**
 * convPath maps a conversation to its route: {kind: 'dm', peer} to
 * /v1/dm/<peer>, {kind: 'group', gid} to /v1/groups/<id>.
 */
export function convPath(conv) {
  return conv.kind === 'dm'
    ? `/v1/dm/${encodeURIComponent(conv.peer)}`
    : `/v1/groups/${encodeURIComponent(conv.gid)}`;
}
