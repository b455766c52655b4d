// The patrol tablet's state: pure reducers of protocol messages (no DOM, no I/O).
//
// Rule: everything the tablet shows is derived from this state, and the state
// changes only here, so a replayed or duplicated message (resume, reconnect)
// can never put the screen in a state the messages do not explain.
//
// State objects are never mutated: a reducer returns a new state whose
// unchanged incidents keep their identity, so views patch only rows whose
// object changed.

/** Incident statuses after which an incident leaves the tablet. */
export const TERMINAL = new Set(['resolved', 'closed', 'rejected', 'merged']);

/** Incident statuses in which the assigned unit is working on it. */
export const WORKING = new Set(['dispatched', 'on_scene']);

/** Offer states that end an offer (`offered` is the only open one). */
export const ENDED = new Set(['accepted', 'declined', 'expired', 'cancelled']);

/**
 * The state of a fresh tablet.
 * @param {string} me the unit's id (the token's `sub`)
 */
export function initialState(me) {
  return {
    me,
    incidents: new Map(), // id -> incident view, live incidents the unit covers
    offers: new Map(), // assignment id -> {assignment, incident, expires_at, state, reason}
    mission: null, // {assignment, incident}: the incident assigned to me
    status: null, // my unit status as last known ('available', 'en_route', ...)
    notice: null, // {key, assignment|incident, at}: the last thing the officer must be told
  };
}

/**
 * The next state after one protocol message (or a local action).
 * Unknown message types leave the state as it is (same object).
 */
export function reduce(state, msg) {
  const reducer = REDUCERS[msg.type];
  return reducer ? reducer(state, msg) : state;
}

const REDUCERS = {
  snapshot: onSnapshot,
  incident: onIncident,
  assignment: onAssignment,
  'assignment.state': onAssignmentState,
  reset: onReset,
  // Local actions (not protocol messages): what the hub confirmed with `ok`.
  'local.offer.ended': onOfferEnded,
  'local.mission.status': onMissionStatus,
  'local.unit.status': (state, msg) => ({ ...state, status: msg.status }),
};

function onSnapshot(state, msg) {
  const incidents = new Map();
  let next = state;
  for (const incident of msg.incidents || []) {
    if (TERMINAL.has(incident.status)) continue;
    incidents.set(incident.id, keep(state.incidents.get(incident.id), incident));
  }
  next = { ...next, incidents };
  for (const incident of incidents.values()) next = withMission(next, incident);
  return next;
}

function onIncident(state, msg) {
  const incident = msg.incident;
  const incidents = new Map(state.incidents);
  if (TERMINAL.has(incident.status)) incidents.delete(incident.id);
  else incidents.set(incident.id, incident);
  return withMission({ ...state, incidents }, incident);
}

// The mission follows its incident's events; an incident the hub shows as
// mine and being worked on becomes the mission (a tablet reloaded mid-mission).
function withMission(state, incident) {
  const mission = state.mission;
  if (mission && mission.incident.id === incident.id) {
    if (TERMINAL.has(incident.status)) {
      // Resolved, or closed / merged by an operator: the hub makes the unit available.
      return { ...state, mission: null, status: 'available' };
    }
    if (incident.unit && incident.unit !== state.me) return { ...state, mission: null };
    return { ...state, mission: { ...mission, incident } };
  }
  if (!mission && incident.unit === state.me && WORKING.has(incident.status)) {
    return { ...state, mission: { assignment: incident.assignment || null, incident } };
  }
  return state;
}

function onAssignment(state, msg) {
  if (state.offers.has(msg.assignment)) return state; // a duplicate never reopens an offer
  const offer = {
    assignment: msg.assignment,
    incident: msg.incident,
    expires_at: msg.expires_at,
    state: 'offered',
    reason: null,
  };
  return { ...state, offers: withOffer(state.offers, offer) };
}

function onAssignmentState(state, msg) {
  if (msg.unit && msg.unit !== state.me) return state;
  let next = state;
  const offer = state.offers.get(msg.assignment);
  if (offer && offer.state === 'offered' && ENDED.has(msg.state)) {
    const ended = { ...offer, state: msg.state, reason: msg.reason || null };
    next = { ...next, offers: withOffer(next.offers, ended) };
    if (msg.state === 'accepted') {
      const incident = latest(next, { ...offer.incident, status: 'dispatched', unit: state.me });
      next = { ...next, mission: { assignment: msg.assignment, incident }, status: 'en_route' };
    } else {
      next = { ...next, notice: { key: `offer.${msg.state}`, assignment: msg.assignment, at: msg.at } };
    }
  }
  const mission = next.mission;
  if (msg.state === 'cancelled' && mission && sameMission(mission, msg)) {
    const notice = { key: 'mission.cancelled', incident: mission.incident.id, at: msg.at };
    next = { ...next, mission: null, status: 'available', notice };
  }
  return next;
}

// Ended offers are kept (so a replayed offer stays closed) but not forever.
const KEPT_OFFERS = 50;

function withOffer(offers, offer) {
  const next = new Map(offers);
  next.delete(offer.assignment);
  next.set(offer.assignment, offer);
  for (const [id, old] of next) {
    if (next.size <= KEPT_OFFERS) break;
    if (old.state !== 'offered') next.delete(id);
  }
  return next;
}

function sameMission(mission, msg) {
  if (mission.assignment && msg.assignment) return mission.assignment === msg.assignment;
  return mission.incident.id === msg.incident;
}

// The offer carries the incident as it was when offered; an event seen since
// (the unit covers it) is newer.
function latest(state, incident) {
  const known = state.incidents.get(incident.id);
  return known && (known.updated_at || 0) >= (incident.updated_at || 0)
    ? { ...known, status: 'dispatched', unit: state.me }
    : incident;
}

function onReset(state, msg) {
  // A reset of the shared stream: a fresh snapshot follows and replaces the
  // incidents; the offer and the mission come from the inbox, so they stay.
  if (msg.stream !== 'events') return state;
  return { ...state, incidents: new Map() };
}

// The tablet closes an offer itself when its deadline passes, or when the hub
// refused an answer because the offer was already over (msg.state).
function onOfferEnded(state, msg) {
  const offer = state.offers.get(msg.assignment);
  if (!offer || offer.state !== 'offered') return state;
  const ended = { ...offer, state: msg.state };
  const notice = { key: `offer.${msg.state}`, assignment: msg.assignment, at: msg.at };
  return { ...state, offers: withOffer(state.offers, ended), notice };
}

function onMissionStatus(state, msg) {
  const mission = state.mission;
  // The incident's own event may have come first and ended the mission already.
  if (msg.status === 'resolved') {
    const ended = !mission || mission.incident.id === msg.incident;
    return ended ? { ...state, mission: null, status: 'available' } : state;
  }
  if (!mission || mission.incident.id !== msg.incident) return state;
  if (msg.status === 'gone') {
    // The hub no longer counts this unit on the incident (closed, reassigned).
    const notice = { key: 'mission.cancelled', incident: msg.incident, at: msg.at };
    return { ...state, mission: null, notice };
  }
  const incident = { ...mission.incident, status: msg.status };
  return { ...state, mission: { ...mission, incident }, status: msg.status };
}

// Keep the old object when nothing changed, so the view does not patch its row.
function keep(old, incident) {
  return old && old.updated_at === incident.updated_at && old.status === incident.status
    ? old
    : incident;
}

// -- derived values (what the views ask) ------------------------------------------------

/**
 * The offer to show, or null: the open offer with the nearest deadline that
 * has not passed at `now` (hub time, ms).
 */
export function currentOffer(state, now) {
  let best = null;
  for (const offer of state.offers.values()) {
    if (offer.state !== 'offered' || now >= offer.expires_at) continue;
    if (!best || offer.expires_at < best.expires_at) best = offer;
  }
  return best;
}

/** Open offers whose deadline has passed at `now` (to close them as expired). */
export function overdueOffers(state, now) {
  return [...state.offers.values()].filter((o) => o.state === 'offered' && now >= o.expires_at);
}

// The tablet's idea of the hub's clock is off by about the welcome's one-way
// delay, and the hub judged a late answer before its reply travelled back.
const CLOCK_SLACK_MS = 1000;

/**
 * How an offer ended when the hub refused the officer's answer as over
 * (`conflict` or `not_found`). The reply names no state: its English message is
 * for developers and its code says only "not possible any more", so the offer's
 * own deadline decides. At or past it (hub time, give or take CLOCK_SLACK_MS):
 * 'expired'; before it the hub ended the offer for another reason (reassigned,
 * incident closed or merged, report withdrawn): 'cancelled'. Usually the hub's
 * `assignment.state` came first and closed the offer already; this covers an
 * answer that crossed it.
 */
export function refusedOfferState(offer, now) {
  return now + CLOCK_SLACK_MS >= offer.expires_at ? 'expired' : 'cancelled';
}

/** Milliseconds left before the offer's deadline (never negative). */
export function remainingMs(offer, now) {
  return Math.max(0, offer.expires_at - now);
}

/** The covered incidents, most urgent first: priority, then score, then oldest. */
export function byPriority(state) {
  return [...state.incidents.values()].sort(
    (a, b) =>
      a.priority - b.priority ||
      (b.score || 0) - (a.score || 0) ||
      (a.opened_at || 0) - (b.opened_at || 0) ||
      (a.id < b.id ? -1 : 1),
  );
}

/** The incident assigned to me, or null. */
export function myIncident(state) {
  return state.mission ? state.mission.incident : null;
}
