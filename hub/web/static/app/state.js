// The citizen app's state: my alerts (each with its timeline), the reports
// waiting to be sent (the outbox), the notices for my area, and the inbox
// offset the timeline is up to. Pure: `reduce(state, msg)` returns a new state
// and never touches the DOM, the network or storage, so it is unit-tested
// without a browser. Protocol messages (alert.ack, alert.status, notice, reset,
// reset) and the app's own actions (report, report.failed, ...) go through it.
//
// Rule: an alert's `ref` is made once, when the resident presses Send, and
// every (re)send of that report uses it, so the hub stores it at most once.

/** The statuses of the normal course, in order (the timeline shows them all). */
export const COURSE = ['received', 'acknowledged', 'dispatched', 'on_scene', 'resolved'];
/** Every status the app has words for (a newer hub may send others: shown as they come). */
export const STATUSES = new Set([...COURSE, 'merged', 'rejected', 'cancelled', 'waiting', 'failed']);
/** Statuses after which nothing more happens to an alert. */
export const FINAL = new Set(['resolved', 'rejected', 'cancelled']);
/** Statuses while nobody works on the alert yet: the resident may withdraw it. */
export const CANCELLABLE = new Set(['received', 'acknowledged']);
/** Error codes after which resending the same report cannot succeed. */
const PERMANENT = new Set(['bad_request', 'out_of_area', 'too_large', 'rate_limited', 'forbidden', 'unknown_type']);
/** How many finished alerts are kept (live ones are always kept). */
export const FINISHED_KEPT = 20;
/** Notice severities the app knows (others read as info). */
export const SEVERITIES = new Set(['info', 'warning', 'danger']);
/** How many notices are shown at most (oldest dropped). */
export const NOTICES_KEPT = 5;

/** The empty state of a new device. */
export function initial() {
  return { alerts: [], inbox: null, notices: [], replies: [], neighbours: null, nearby: [] };
}

/** Statuses after which the resident may rate how the alert was handled. */
export const RATEABLE = new Set(['resolved', 'rejected']);
/** Incident statuses during which a resident may still answer the control room. */
const LIVE = new Set(['received', 'acknowledged', 'dispatched', 'on_scene']);

/** Whether the resident may answer the control room about this alert now. */
export function answerable(a) {
  return a.alert != null && LIVE.has(a.status);
}

/** Whether the resident may rate this alert (once, after the end). */
export function rateable(a) {
  return a.alert != null && RATEABLE.has(a.status) && !a.rated;
}

/** The `message.reply` messages of the answers still to send, oldest first. */
export function pendingReplies(state) {
  return (state.replies || []).map((r) => ({ type: 'message.reply', ref: r.ref, alert: r.alert, text: r.text }));
}

/** A new report: the entry the resident sees as "waiting" until the hub acks it. */
export function newReport({ ref, category, lat, lon, text = '', accuracy_m = null, cell = null, at }) {
  return {
    ref, alert: null, incident: null, category, lat, lon, text, accuracy_m, cell,
    created_at: at, status: 'waiting', steps: [], error: null,
  };
}

/** The `alert.submit` messages of the reports still waiting, oldest first. */
export function outbox(state) {
  return state.alerts.filter((a) => a.status === 'waiting').map(submitMessage);
}

/** The protocol message that sends this report. */
export function submitMessage(a) {
  const msg = { type: 'alert.submit', ref: a.ref, category: a.category, lat: a.lat, lon: a.lon };
  if (a.text) msg.text = a.text;
  if (a.accuracy_m != null) msg.accuracy_m = a.accuracy_m;
  return msg;
}

/** Whether the resident may withdraw this alert now. */
export function cancellable(a) {
  return a.alert != null && CANCELLABLE.has(a.status);
}

/** Whether the resident may take back this report before it left the phone. */
export function withdrawable(a) {
  return a.status === 'waiting';
}

/** Whether an error code means "keep it and send the same report again later". */
export function retryable(code) {
  return !PERMANENT.has(code);
}

const REDUCERS = {
  'report': (s, m) => withAlerts(s, [...s.alerts, m.report]),
  'report.failed': reportFailed,
  'report.withdraw': (s, m) => withAlerts(s, s.alerts.filter((a) => !(a.ref === m.ref && withdrawable(a)))),
  'alert.ack': ack,
  'alert.status': alertStatus,
  'cancel.failed': (s, m) => patchAlert(s, (a) => a.ref === m.ref, (a) => ({ ...a, error: errorOf(m) })),
  'notice': notice,
  'notice.dismiss': (s, m) => ({ ...s, notices: s.notices.filter((n) => n.notice !== m.notice) }),
  'reset': (s, m) => (m.stream === 'inbox' ? { ...s, inbox: null } : s),
  // The conversation: the control room's messages and my answers (inbox), my answers
  // waiting to be sent (same ref on every resend), my rating.
  'message': message,
  'reply': (s, m) => ({ ...s, replies: [...(s.replies || []), { ref: m.ref, alert: m.alert, text: m.text }] }),
  'reply.done': (s, m) => ({ ...s, replies: (s.replies || []).filter((r) => r.ref !== m.ref) }),
  'rated': (s, m) => patchAlert(s, (a) => a.alert === m.alert, (a) => ({ ...a, rated: m.score })),
  // Neighbours: the opt-in, the published incidents of my area, my "me too".
  'neighbours.optin': (s, m) => ({ ...s, neighbours: m.cells && m.cells.length ? m.cells : null, nearby: m.cells?.length ? s.nearby : [] }),
  'neighbours': (s, m) => ({ ...s, nearby: m.incidents || [] }),
  'neighbour': nearbyChange,
  'metoo': (s, m) => withAlerts(s, [...s.alerts, {
    ...newReport({ ref: `alert:${m.alert}`, category: m.category, at: m.at }),
    alert: m.alert, incident: m.incident, status: 'received', steps: [{ status: 'received', at: m.at }],
  }]),
};

function message(s, m) {
  const known = s.alerts.find((a) => a.alert === m.alert);
  if (!known || (known.messages || []).some((x) => x.message === m.message)) return s;
  const entry = { message: m.message, from: m.from, text: m.text, at: m.at };
  return patchAlert(s, (a) => a === known, (a) => ({ ...a, messages: [...(a.messages || []), entry] }));
}

function nearbyChange(s, m) {
  const inc = m.incident;
  const others = (s.nearby || []).filter((x) => x.id !== inc.id);
  const shown = inc.published && ['open', 'acknowledged', 'dispatched', 'on_scene'].includes(inc.status);
  return { ...s, nearby: shown ? [inc, ...others] : others };
}

/** The next state after `msg`; unknown messages leave the state as it is. */
export function reduce(state, msg) {
  const reducer = REDUCERS[msg.type];
  const next = reducer ? reducer(state, msg) : state;
  return msg.stream === 'inbox' && msg.offset ? { ...next, inbox: msg.offset } : next;
}

function ack(s, m) {
  const known = s.alerts.find((a) => a.ref === m.ref);
  if (!known) return s; // a reply to another tab's or an old request
  // A status may have overtaken the ack (another tab, a replay): fold it in.
  const early = s.alerts.find((a) => a.ref !== m.ref && a.alert === m.alert);
  const step = { status: 'received', at: m.at };
  const steps = mergeSteps([step], [...known.steps, ...(early ? early.steps : [])]);
  const alerts = s.alerts.filter((a) => a !== early).map((a) => a === known
    ? { ...a, alert: m.alert, incident: m.incident, status: latest(steps), steps, error: null }
    : a);
  return withAlerts(s, alerts);
}

function alertStatus(s, m) {
  const step = { status: m.status, at: m.at, note: m.note || '' };
  const known = s.alerts.find((a) => a.alert === m.alert);
  if (!known) {
    // An alert of mine this device did not send (or no longer remembers): show it anyway.
    const a = { ...newReport({ ref: `alert:${m.alert}`, category: null, at: m.at }), alert: m.alert };
    return withAlerts(s, [...s.alerts, { ...a, status: m.status, steps: [step] }]);
  }
  const steps = mergeSteps(known.steps, [step]);
  if (steps === known.steps) return s;
  return patchAlert(s, (a) => a === known, (a) => ({ ...a, status: latest(steps), steps, error: null }));
}

function reportFailed(s, m) {
  if (retryable(m.code)) return s; // stays waiting: sent again with the same ref
  return patchAlert(s, (a) => a.ref === m.ref && a.status === 'waiting',
    (a) => ({ ...a, status: 'failed', error: errorOf(m) }));
}

function notice(s, m) {
  if (s.notices.some((n) => n.notice === m.notice)) return s;
  const n = { notice: m.notice, text: m.text, severity: SEVERITIES.has(m.severity) ? m.severity : 'info', at: m.at };
  return { ...s, notices: [n, ...s.notices].slice(0, NOTICES_KEPT) };
}

function errorOf(m) {
  return { code: m.code, message: m.message || '', retry_after_s: m.retry_after_s ?? null };
}

/** Steps merged without duplicates (same status at the same time), in time order. */
export function mergeSteps(steps, more) {
  const key = (st) => `${st.status}@${st.at}`;
  const seen = new Set(steps.map(key));
  const added = more.filter((st) => !seen.has(key(st)) && seen.add(key(st)));
  if (added.length === 0) return steps;
  return [...steps, ...added].sort((x, y) => x.at - y.at);
}

function latest(steps) {
  const final = steps.find((st) => FINAL.has(st.status));
  return final ? final.status : steps[steps.length - 1].status;
}

function patchAlert(s, match, change) {
  let changed = false;
  const alerts = s.alerts.map((a) => (match(a) ? ((changed = true), change(a)) : a));
  return changed ? withAlerts(s, alerts) : s;
}

/** Keep every live alert and the most recent finished ones. */
function withAlerts(s, alerts) {
  const finished = alerts.filter((a) => FINAL.has(a.status) || a.status === 'failed');
  if (finished.length <= FINISHED_KEPT) return { ...s, alerts };
  const drop = new Set(finished.slice(0, finished.length - FINISHED_KEPT));
  return { ...s, alerts: alerts.filter((a) => !drop.has(a)) };
}

/** The timeline to show: every step that happened, then the course still ahead. */
export function timeline(a) {
  const done = a.steps.map((st) => ({ ...st, reached: true }));
  if (FINAL.has(a.status) || a.status === 'failed' || a.status === 'waiting') return done;
  const reached = new Set(a.steps.map((st) => st.status));
  const last = Math.max(...a.steps.map((st) => COURSE.indexOf(st.status)));
  const ahead = COURSE.slice(last + 1).filter((st) => !reached.has(st));
  return [...done, ...ahead.map((status) => ({ status, at: null, reached: false }))];
}
