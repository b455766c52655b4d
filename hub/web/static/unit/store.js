// What the tablet keeps across a reload of the page (sessionStorage, this tab
// only): the inbox offset together with the offers and the mission it led to.
// Saved as one value, so the offset never runs ahead of the state it explains:
// after a reload the hub replays the inbox from there, nothing twice, nothing lost.

const VERSION = 1;

function key(me) {
  return `vigie.unit.${me}`;
}

/** The saved {inbox, offers, mission, status} of unit `me`, or null. */
export function load(me, storage = sessionStorage) {
  try {
    const saved = JSON.parse(storage.getItem(key(me)));
    if (!saved || saved.version !== VERSION) return null;
    return saved;
  } catch {
    return null;
  }
}

/** Save the part of `state` that comes from the inbox, with the inbox offset. */
export function save(state, inboxOffset, storage = sessionStorage) {
  const offers = [...state.offers.values()].filter((o) => o.state === 'offered');
  const value = { version: VERSION, inbox: inboxOffset || null, offers, mission: state.mission, status: state.status };
  try {
    storage.setItem(key(state.me), JSON.stringify(value));
  } catch {
    // Storage full or disabled: the next load replays the whole inbox instead.
  }
}

/** The state to start from: `fresh` with the saved offers and mission (if any). */
export function restore(fresh, saved) {
  if (!saved) return fresh;
  const offers = new Map((saved.offers || []).map((o) => [o.assignment, o]));
  return { ...fresh, offers, mission: saved.mission || null, status: saved.status || null };
}
