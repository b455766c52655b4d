// The unit's position from navigator.geolocation, sent at most once a second.
// Knows no DOM: it reports fixes and problems through callbacks.

/** The least time between two positions sent (the hub coalesces to 1/s as well). */
export const MIN_INTERVAL_MS = 1000;

/**
 * A pure rate limiter: `offer(fix, now)` says whether to send `fix` now, and
 * otherwise keeps the newest fix for `due(now)`, so the last position is never
 * lost, only delayed to the next allowed time.
 */
export class Throttle {
  constructor(minIntervalMs = MIN_INTERVAL_MS) {
    this.min = minIntervalMs;
    this.lastSent = -Infinity;
    this.pending = null;
  }

  /** True when `fix` may be sent at `now` (then it counts as sent). */
  offer(fix, now) {
    if (now - this.lastSent >= this.min) {
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
    this.lastSent = now;
    return fix;
  }
}

/** The `unit.position` message of a browser position. */
export function positionMessage(position) {
  const c = position.coords;
  return { type: 'unit.position', lat: c.latitude, lon: c.longitude, at: Math.round(position.timestamp) };
}

/**
 * Watch the position and call `send(message)` at most once a second.
 * `onProblem(kind)` gets 'denied' | 'unavailable' | 'unsupported' | null (fixed again).
 * @returns {() => void} stop
 */
export function trackPosition({ send, onProblem, onFix, geolocation = navigator.geolocation }) {
  if (!geolocation) {
    onProblem('unsupported');
    return () => {};
  }
  const throttle = new Throttle();
  let timer = null;

  function flush() {
    timer = null;
    const fix = throttle.due(performance.now());
    if (fix) send(positionMessage(fix));
  }

  function onPosition(position) {
    onProblem(null);
    if (onFix) onFix(position);
    const now = performance.now();
    if (throttle.offer(position, now)) send(positionMessage(position));
    else if (timer === null) timer = setTimeout(flush, throttle.waitMs(now));
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
  return () => {
    geolocation.clearWatch(id);
    if (timer !== null) clearTimeout(timer);
  };
}
