// The WebSocket session of protocol v1 (JSON): hello with resume, offsets per
// stream with dedupe, requests matched by ref, reconnect with backoff and jitter.
// Knows no DOM: apps pass onMessage / onStatus and own what they show.

export const SUBPROTOCOL = 'vigie.v1.json';
export const BACKOFF_START_MS = 500;
export const BACKOFF_CAP_MS = 30000;
const REPLY_TYPES = new Set(['ok', 'error', 'alert.ack', 'recommendation', 'incident.history', 'neighbours']);
const PROBE_REF = 'vigie-probe';

/**
 * The close-code rule (hub/core/errors.py `reconnects`): reconnect on every code
 * except 1000 (asked for), 1002-1003 and 1007-1010 (protocol broken by the client)
 * and 4400-4407 (request or credential errors; 4401: get a new token).
 */
export function reconnects(code) {
  if (code === 1000) return false;
  if (code >= 1002 && code <= 1003) return false;
  if (code >= 1007 && code <= 1010) return false;
  return !(code >= 4400 && code <= 4407);
}

/** Compare stream offsets "<ms>-<seq>" numerically: <0, 0 or >0. */
export function compareOffsets(a, b) {
  const [am, as = '0'] = String(a).split('-');
  const [bm, bs = '0'] = String(b).split('-');
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

/** The wait before reconnect attempt `attempt` (0-based): 0.5 s doubling to 30 s, jittered 50-100 %. */
export function backoffMs(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** attempt);
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** A request that got no reply: `reason` is 'timeout', 'lost' (connection gone) or 'offline'. */
export class RequestError extends Error {
  constructor(reason, ref) {
    super(`request ${ref}: ${reason}`);
    this.reason = reason;
    this.ref = ref;
  }
}

function defaultUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

let refCounter = 0;

/** A fresh ref (1-64 characters): unique per page and time. */
export function newRef(prefix = 'r') {
  refCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${refCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

export class Connection {
  /**
   * @param {object} options token; url (default ws(s)://<host>/ws); onMessage(msg);
   *   onStatus(status, info); offsets {events?, inbox?} to resume from;
   *   WebSocket (the constructor, for tests).
   */
  constructor({ token, url, onMessage, onStatus, offsets = {}, WebSocket: Socket } = {}) {
    this.token = token;
    this.url = url || defaultUrl();
    this.onMessage = onMessage || (() => {});
    this.onStatus = onStatus || null;
    this.status = 'closed';
    this.welcome = null;
    this._Socket = Socket || globalThis.WebSocket;
    this._offsets = { ...offsets };
    this._pending = new Map(); // ref -> {resolve, reject, timer}
    this._ws = null;
    this._attempt = 0;
    this._retryTimer = null;
    this._idleTimer = null;
    this._stopped = true;
  }

  /** The last offset seen per stream ({events?, inbox?}): persist them to resume later. */
  get offsets() {
    return { ...this._offsets };
  }

  /** Connect (and keep reconnecting until close() or a final close code). */
  start() {
    this._stopped = false;
    this._connect();
  }

  /** Send now if live; returns false (nothing queued) otherwise. */
  send(msg) {
    if (this.status !== 'live') return false;
    this._ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Send `msg` with a ref (a fresh one unless msg.ref is set) and resolve with the
   * reply carrying it (ok, error, alert.ack, ...). Rejects with RequestError on
   * timeout or connection loss: retry with THE SAME ref (the hub is idempotent by ref).
   */
  request(msg, { timeoutMs = 10000 } = {}) {
    const ref = msg.ref || newRef();
    const framed = { ...msg, ref };
    return new Promise((resolve, reject) => {
      if (!this.send(framed)) {
        reject(new RequestError('offline', ref));
        return;
      }
      const timer = setTimeout(() => this._settle(ref, null, new RequestError('timeout', ref)), timeoutMs);
      this._pending.set(ref, { resolve, reject, timer });
    });
  }

  /** Close for good (code 1000: the hub forgets the session; no reconnect). */
  close() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    this._stopIdle();
    if (this._ws) this._ws.close(1000, 'bye');
    this._failPending('lost');
    this._setStatus('closed', { code: 1000, reason: 'closed by the page' });
  }

  _connect() {
    this._setStatus(this._attempt === 0 ? 'connecting' : 'reconnecting', { attempt: this._attempt });
    let ws;
    try {
      ws = new this._Socket(this.url, [SUBPROTOCOL]);
    } catch (error) {
      this._lost({ code: 1006, reason: String(error) });
      return;
    }
    this._ws = ws;
    ws.onopen = () => ws.send(JSON.stringify(this._hello()));
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => {
      if (this._ws === ws) this._lost({ code: event.code, reason: event.reason });
    };
  }

  _hello() {
    const hello = { type: 'hello', token: this.token };
    const resume = {};
    for (const stream of ['events', 'inbox']) if (this._offsets[stream]) resume[stream] = this._offsets[stream];
    if (Object.keys(resume).length) hello.resume = resume;
    return hello;
  }

  _receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // not ours to show; the hub only sends JSON on this subprotocol
    }
    this._touch();
    if (msg.type === 'welcome') {
      this.welcome = msg;
      this._attempt = 0;
      this._setStatus('live', {});
    }
    if (msg.ref === PROBE_REF) return; // the probe's `unknown_type` reply (_touch): proof of life only
    if (!this._fresh(msg)) return;
    if (msg.ref && REPLY_TYPES.has(msg.type)) this._settle(msg.ref, msg, null);
    this.onMessage(msg);
  }

  /** Track offsets; false for a message already seen (replayed after a resume). */
  _fresh(msg) {
    if (msg.type === 'reset') {
      delete this._offsets[msg.stream];
      return true;
    }
    if (!msg.stream || !msg.offset) return true;
    const last = this._offsets[msg.stream];
    if (last && msg.type !== 'snapshot' && compareOffsets(msg.offset, last) <= 0) return false;
    if (!last || compareOffsets(msg.offset, last) > 0) this._offsets[msg.stream] = msg.offset;
    return true;
  }

  _settle(ref, reply, error) {
    const pending = this._pending.get(ref);
    if (!pending) return;
    this._pending.delete(ref);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(reply);
  }

  _failPending(reason) {
    for (const ref of [...this._pending.keys()]) this._settle(ref, null, new RequestError(reason, ref));
  }

  _lost({ code, reason }) {
    this._ws = null;
    this._stopIdle();
    this._failPending('lost');
    if (this._stopped) return;
    if (!reconnects(code)) {
      this._stopped = true;
      this._setStatus('closed', { code, reason, auth: code === 4401 });
      return;
    }
    const retryInMs = backoffMs(this._attempt);
    this._attempt += 1;
    this._setStatus('reconnecting', { code, reason, attempt: this._attempt, retryInMs });
    this._retryTimer = setTimeout(() => this._connect(), retryInMs);
  }

  // Dead-connection check. Browsers answer the hub's pings without telling the
  // page, so silence alone proves nothing on a quiet session: after heartbeat_s
  // of silence, probe with a message the hub answers; still silent one heartbeat
  // later: the link is dead. Protocol v1 has no message for this (its heartbeats
  // are WebSocket ping/pong, which page scripts can neither send nor see) and
  // every defined type acts or is refused by role, so the probe is a type the hub
  // does not know: it answers `unknown_type` with our ref and acts on nothing.
  // _receive drops every reply carrying PROBE_REF before onMessage: an app never
  // sees it, so no user is ever shown it.
  _touch() {
    this._stopIdle();
    if (this._stopped) return;
    const heartbeatMs = 1000 * ((this.welcome && this.welcome.heartbeat_s) || 25);
    this._idleTimer = setTimeout(() => {
      if (this.status === 'live') this._ws.send(JSON.stringify({ type: 'probe', ref: PROBE_REF }));
      this._idleTimer = setTimeout(() => this._dead(), heartbeatMs);
    }, heartbeatMs);
  }

  _stopIdle() {
    clearTimeout(this._idleTimer);
  }

  _dead() {
    const ws = this._ws;
    if (!ws) return;
    this._ws = null;
    ws.close(4000, 'no answer'); // the hub may never see it; we move on regardless
    this._lost({ code: 1006, reason: 'no answer from the hub' });
  }

  _setStatus(status, info) {
    const changed = status !== this.status || info.attempt !== undefined;
    this.status = status;
    if (changed && this.onStatus) this.onStatus(status, info);
  }
}
