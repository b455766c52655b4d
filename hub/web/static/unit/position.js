// The unit's position from navigator.geolocation, sent at most once a second.
// Knows no DOM: it reports fixes and problems through callbacks.

/**
 * The least time between two positions sent: at most one a second, with a
 * margin, because the hub passes on to consoles at most one position per unit
 * per second and drops (keeps, without an event) one that arrives sooner.
 */
export const MIN_INTERVAL_MS = 1100;

/**
 * A pure rate limiter: `offer(fix, now)` says whether to send `fix` now, and
 * otherwise keeps the newest fix for `due(now)`, so the last position is never
 * lost, only delayed to the next allowed time.
 */
export class Throttle {
  constructor(minIntervalMs = MIN_INTERVAL_MS) {
    this.min = minIntervalMs;
    this.lastSent = -Infinity;
    this.previousSent = -Infinity;
    this.pending = null;
  }

  /** True when `fix` may be sent at `now` (then it counts as sent). */
  offer(fix, now) {
    if (now - this.lastSent >= this.min) {
      this.previousSent = this.lastSent;
      this.lastSent = now;
      this.pending = null;
      return true;
    }
    this.pending = fix;
    return false;
  }

  /** Milliseconds until the kept fix may be sent, or null when none is kept. */
  waitMs(now) {
    return this.pending ? Math.max(0, this.lastSent + this.min - now) : null;
  }

  /** The kept fix if it may be sent at `now` (then it counts as sent), else null. */
  due(now) {
    if (!this.pending || now - this.lastSent < this.min) return null;
    const fix = this.pending;
    this.pending = null;
    this.previousSent = this.lastSent;
    this.lastSent = now;
    return fix;
  }

  /** The fix just allowed could not be sent (no connection): keep it, uncounted. */
  failed(fix) {
    this.lastSent = this.previousSent;
    if (!this.pending) this.pending = fix;
  }
}

/** The `unit.position` message of a browser position. */
export function positionMessage(position) {
  const c = position.coords;
  return { type: 'unit.position', lat: c.latitude, lon: c.longitude, at: Math.round(position.timestamp) };
}

/**
 * Watch the position and send it at most once a second.
 * `send(message)` returns false when it could not send (no connection): the fix
 * is then kept for `retry()` (call it when the connection is back).
 * `onProblem(kind)` gets 'denied' | 'unavailable' | 'unsupported' | null (fixed again).
 * @returns {{stop(): void, retry(): void}}
 */
export function trackPosition({ send, onProblem, onFix, geolocation = navigator.geolocation }) {
  if (!geolocation) {
    onProblem('unsupported');
    return { stop() {}, retry() {} };
  }
  const throttle = new Throttle();
  let timer = null;

  function transmit(fix) {
    if (!send(positionMessage(fix))) throttle.failed(fix);
  }

  // Timers may fire a fraction of a millisecond before performance.now() says
  // the slot is open: then wait again rather than drop the kept fix.
  function schedule(now) {
    const wait = throttle.waitMs(now);
    if (wait !== null && timer === null) timer = setTimeout(flush, Math.max(1, Math.ceil(wait)));
  }

  function flush() {
    timer = null;
    const now = performance.now();
    const fix = throttle.due(now);
    if (fix) transmit(fix);
    else schedule(now);
  }

  function onPosition(position) {
    onProblem(null);
    if (onFix) onFix(position);
    const now = performance.now();
    if (throttle.offer(position, now)) transmit(position);
    else schedule(now);
  }

  function onError(error) {
    // PERMISSION_DENIED is final until the officer changes the site settings.
    onProblem(error.code === 1 ? 'denied' : 'unavailable');
  }

  const id = geolocation.watchPosition(onPosition, onError, {
    enableHighAccuracy: true,
    maximumAge: 5000,
    timeout: 30000,
  });
  return {
    stop() {
      geolocation.clearWatch(id);
      if (timer !== null) clearTimeout(timer);
    },
    retry() {
      if (timer === null) flush();
    },
  };
}
