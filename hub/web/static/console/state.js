// The console's state: live incidents in the hub's order, the unit board,
// assignment offers and recommendations. Rule: this module is pure — it
// reduces protocol messages (docs/protocol.md, "Control-room consoles") to a
// new state and says what changed, and touches no DOM, socket or clock.
//
// reduce(state, msg) → {state, changes}; `changes` tells the views which rows
// to patch, so no view redraws everything per event.

/** Incident statuses that leave the console's queue. */
export const TERMINAL = new Set(['resolved', 'closed', 'rejected', 'merged']);

/** Not yet acknowledged by an operator (what the page title counts). */
export const UNACKNOWLEDGED = new Set(['open']);

/** A unit whose last position is older than this is drawn as stale. */
export const STALE_MS = 2 * 60 * 1000;

/** The empty state, before the first snapshot. */
export function initial() {
  return {
    ready: false,            // a snapshot has been applied since the start or the last reset
    incidents: new Map(),    // id → incident view (live ones only)
    order: [],               // incident ids, the hub's order (score, highest first)
    units: new Map(),        // id → unit view
    offers: new Map(),       // assignment id → assignment.state message (state 'offered')
    lastOffer: new Map(),    // incident id → the latest assignment.state about it
    recommendations: new Map(), // incident id → recommendation message
    waiting: 0,              // incidents waiting in the hub's queue (from `queue`)
  };
}

function noChanges() {
  return { incidents: new Set(), added: new Set(), removed: new Set(), units: new Set(),
    order: false, offers: false, recommendations: new Set(), all: false };
}

/** Apply one protocol message; unknown types leave the state as it was. */
export function reduce(state, msg) {
  const changes = noChanges();
  const reducer = REDUCERS[msg.type];
  if (!reducer) return { state, changes };
  return { state: reducer(state, msg, changes), changes };
}

// -- incidents -------------------------------------------------------------------------

/** Highest score first; ties: the oldest first, then by id (stable across clients). */
export function compareIncidents(a, b) {
  return (b.score - a.score) || (a.opened_at - b.opened_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function sortedIds(incidents) {
  return [...incidents.values()].sort(compareIncidents).map((i) => i.id);
}

function sameOrder(a, b) {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function withOrder(state, incidents, changes) {
  const order = sortedIds(incidents);
  changes.order = !sameOrder(order, state.order);
  return { ...state, incidents, order: changes.order ? order : state.order };
}

function snapshot(state, msg, changes) {
  const incidents = new Map();
  for (const inc of msg.incidents || []) if (!TERMINAL.has(inc.status)) incidents.set(inc.id, inc);
  const units = new Map((msg.units || []).map((u) => [u.id, u]));
  changes.all = true;
  changes.order = true;
  // Recommendations of incidents that are gone are dropped; the rest survive a
  // resync (the snapshot does not carry them).
  return { ...state, ready: true, incidents, units, ...offersAfter(state, msg, incidents),
    order: sortedIds(incidents), recommendations: onlyLive(state.recommendations, incidents) };
}

// The offers after a snapshot. One with `offers` (added) lists those pending now:
// they replace the ones known, and an offer still pending here that it does not
// list ended meanwhile (how, it does not say: its line goes). An older hub's
// snapshot has no `offers`: the known ones survive the resync. Either way the
// offers of incidents that are gone are dropped.
function offersAfter(state, msg, incidents) {
  const lastOffer = onlyLive(state.lastOffer, incidents);
  if (!Array.isArray(msg.offers)) {
    return { offers: new Map([...state.offers].filter(([, o]) => incidents.has(o.incident))), lastOffer };
  }
  const offers = new Map(msg.offers.filter((o) => incidents.has(o.incident)).map((o) => [o.assignment, o]));
  for (const [id, last] of lastOffer) {
    if (last.state === 'offered' && !offers.has(last.assignment)) lastOffer.delete(id);
  }
  for (const o of offers.values()) lastOffer.set(o.incident, o);
  return { offers, lastOffer };
}

function incident(state, msg, changes) {
  const inc = msg.incident;
  const incidents = new Map(state.incidents);
  if (TERMINAL.has(inc.status)) {
    if (!incidents.delete(inc.id)) return state;
    changes.removed.add(inc.id);
    changes.incidents.add(inc.id);
    return { ...withOrder(state, incidents, changes), ...forget(state, inc.id) };
  } else {
    const before = incidents.get(inc.id);
    if (before && before.updated_at > inc.updated_at) return state; // an older view, replayed
    if (!before) changes.added.add(inc.id);
    incidents.set(inc.id, inc);
  }
  changes.incidents.add(inc.id);
  return withOrder(state, incidents, changes);
}

// What the state keeps about an incident besides its view goes with it, so a
// long shift does not accumulate the recommendations of every incident ever seen.
function forget(state, id) {
  const lastOffer = new Map(state.lastOffer);
  const recommendations = new Map(state.recommendations);
  lastOffer.delete(id);
  recommendations.delete(id);
  return { lastOffer, recommendations };
}

function onlyLive(map, incidents) {
  return new Map([...map].filter(([id]) => incidents.has(id)));
}

function queue(state, msg, changes) {
  const incidents = new Map(state.incidents);
  for (const { id, score } of msg.incidents || []) {
    const inc = incidents.get(id);
    if (inc && inc.score !== score) {
      incidents.set(id, { ...inc, score });
      changes.incidents.add(id);
    }
  }
  return { ...withOrder(state, incidents, changes), waiting: msg.waiting ?? state.waiting };
}

function reset(state, msg, changes) {
  if (msg.stream && msg.stream !== 'events') return state;
  // Keep what is on screen until the fresh snapshot replaces it wholesale.
  return { ...state, ready: false };
}

// -- units and assignments -------------------------------------------------------------

function definedFields(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== null));
}

function unit(state, msg, changes) {
  const u = msg.unit;
  const units = new Map(state.units);
  const before = units.get(u.id) || {};
  const merged = { ...before, ...definedFields(u) };
  if (msg.change === 'offline') merged.online = false;
  if (msg.change === 'online') merged.online = true;
  units.set(u.id, merged);
  changes.units.add(u.id);
  return { ...state, units };
}

function assignmentState(state, msg, changes) {
  const offers = new Map(state.offers);
  if (msg.state === 'offered') offers.set(msg.assignment, msg);
  else offers.delete(msg.assignment);
  const lastOffer = new Map(state.lastOffer).set(msg.incident, msg);
  changes.offers = true;
  changes.units.add(msg.unit);
  changes.incidents.add(msg.incident);
  return { ...state, offers, lastOffer };
}

function recommendation(state, msg, changes) {
  const recommendations = new Map(state.recommendations).set(msg.incident, msg);
  changes.recommendations.add(msg.incident);
  return { ...state, recommendations };
}

const REDUCERS = {
  snapshot,
  incident,
  queue,
  reset,
  unit,
  'assignment.state': assignmentState,
  recommendation,
};

// -- questions views ask ---------------------------------------------------------------

/** Incidents waiting for an operator at priority 1 or 2 (the page title's count). */
export function urgentUnacknowledged(state) {
  let n = 0;
  for (const inc of state.incidents.values()) if (inc.priority <= 2 && UNACKNOWLEDGED.has(inc.status)) n += 1;
  return n;
}

/** The pending offer of a unit, or null. */
export function offerOf(state, unitId) {
  for (const o of state.offers.values()) if (o.unit === unitId) return o;
  return null;
}

/** Seconds left before an offer expires (never negative). */
export function secondsLeft(offer, now) {
  return Math.max(0, Math.ceil((offer.expires_at - now) / 1000));
}

/** Whether a unit's last position is too old to trust. */
export function isStale(unitView, now) {
  return !unitView.last_seen || now - unitView.last_seen > STALE_MS;
}

/**
 * Units to offer an incident to: the recommended ones first (the hub's order),
 * then the others: online and available, online and busy (en route, on scene),
 * online and off duty, offline, each by id.
 * Each entry: {unit, recommended, reason}.
 */
export function unitChoices(state, incidentId) {
  const rec = state.recommendations.get(incidentId);
  const first = rec?.units || [];
  const seen = new Set(first.map((r) => r.unit));
  // The rest, those able to go first: the list's first entry is what "Assign"
  // sends when the operator does not choose, and an offline unit would only let
  // the offer expire.
  const readiness = (id) => {
    const u = state.units.get(id);
    if (!u.online) return 3;
    if (u.status === 'available') return 0;
    return u.status === 'off_duty' ? 2 : 1; // busy, en route, on scene: on duty at least
  };
  const rest = [...state.units.keys()].filter((id) => !seen.has(id))
    .sort((a, b) => readiness(a) - readiness(b) || (a < b ? -1 : a > b ? 1 : 0));
  return [
    ...first.map((r) => ({ unit: r.unit, recommended: true, reason: r.reason })),
    ...rest.map((id) => ({ unit: id, recommended: false, reason: '' })),
  ];
}

/** The id next to `current` in the queue (`step` +1 down, -1 up), clamped. */
export function neighbour(state, current, step) {
  const { order } = state;
  if (order.length === 0) return null;
  const at = order.indexOf(current);
  if (at < 0) return order[step > 0 ? 0 : order.length - 1];
  return order[Math.min(order.length - 1, Math.max(0, at + step))];
}
