// The console's wiring: token → tenant → state → connection → views. Data
// flows one way: each message is reduced to a new state (state.js), then each
// view patches what the changes name. Selection is the only other state and
// lives here, so every view agrees on it.

import { tenant as loadTenant, cellAt, getJSON } from '../shared/api.js';
import { claims, requireToken, signInAgain } from '../shared/auth.js';
import { Connection, RequestError } from '../shared/connection.js';
import { $ } from '../shared/dom.js';
import { errorText } from '../shared/errors.js';
import { categoryLabel, t, translate } from '../shared/i18n.js';
import { connectionBadge } from '../shared/status.js';
import { setTimeZone } from '../shared/time.js';
import { Commands } from './actions.js';
import { CellOutlines } from './cells.js';
import { HotspotLayer, defaultPeriod } from './hotspots.js';
import { bindKeys, fillKeysDialog } from './keys.js';
import { IncidentMap } from './map.js';
import { NoticeComposer } from './notices.js';
import { IncidentPanel } from './panel.js';
import { Queue } from './queue.js';
import { StatsView } from './stats.js';
import { Alarm } from './sound.js';
import { initial, neighbour, reduce, urgentUnacknowledged } from './state.js';
import { UnitBoard } from './units.js';

const LIVE_WAIT_MS = 15_000;
const MAP_TICK_EVERY = 10; // seconds between stale-marker checks

async function main() {
  translate();
  const token = await requireToken('console');
  if (!token) return;
  const town = await loadTenant(token);
  setTimeZone(town.timezone);
  const categories = new Map(town.categories.map((c) => [c.id, c]));
  const label = (id) => categoryLabel(categories.get(id)) || id;
  $('#town').textContent = town.name;
  $('#operator').textContent = claims(token)?.sub || '';

  let state = initial();
  let selected = null;
  const liveWaiters = [];
  const whenLive = () => (conn.status === 'live' ? Promise.resolve() : new Promise((resolve, reject) => {
    liveWaiters.push(resolve);
    setTimeout(() => reject(new RequestError('offline', 'console')), LIVE_WAIT_MS); // shown by code
  }));
  const conn = new Connection({
    token,
    onMessage: (msg) => apply(msg),
    onStatus: (status) => { if (status === 'live') liveWaiters.splice(0).forEach((resolve) => resolve()); },
  });
  const commands = new Commands(conn, whenLive);
  const cells = new CellOutlines((path) => getJSON(path, token));
  const alarm = new Alarm();

  const map = new IncidentMap($('#map'), {
    tenant: town, cells,
    onSelect: (id) => select(id),
    onPick: (latlng) => notices.pickAt(latlng),
    describeUnit: (id, u) => `${id} · ${t(`console.unitStatus.${u.status}`)}`,
  });
  const queue = new Queue($('#queue'), { label, onSelect: (id) => select(id) });
  const panel = new IncidentPanel($('#panel'), {
    commands, label, getState: () => state,
    fetchIncident: (id) => getJSON(`/api/v1/incidents/${encodeURIComponent(id)}`, token),
  });
  const units = new UnitBoard($('#units'), town.sectors);
  const notices = new NoticeComposer($('#notices'), {
    commands, map, cellAt: (lat, lon) => cellAt(token, lat, lon),
    selectedCell: () => state.incidents.get(selected)?.cell || null,
  });

  function select(id, { focus = false } = {}) {
    selected = id && state.incidents.has(id) ? id : null;
    queue.select(selected, { focus });
    map.select(selected);
    panel.show(selected, Date.now());
  }

  function apply(msg) {
    const started = performance.now();
    const before = state;
    if (msg.type === 'message' || msg.type === 'feedback') panel.heard(msg); // the conversation
    const { state: after, changes } = reduce(state, msg);
    state = after;
    if (after !== before) render(before, changes);
    // The benchmark's hook (scripts/bench_console.py): when the DOM was patched, and how long it took.
    window.__vigieRendered?.(msg, performance.now(), started);
  }

  function render(before, changes) {
    const now = Date.now();
    map.update(state, changes, now);
    queue.update(state, changes, now);
    units.update(state, changes, now);
    panel.update(state, changes, now);
    if (selected && !state.incidents.has(selected)) {
      // The selected incident left the queue (closed, merged…): take the one now in its place.
      const at = before.order.indexOf(selected);
      select(state.order[Math.min(at, state.order.length - 1)] || null);
    }
    if (!changes.all) soundFor(before, changes);
    showCounts();
  }

  function soundFor(before, changes) {
    for (const id of changes.incidents) {
      const inc = state.incidents.get(id);
      const was = before.incidents.get(id);
      if (inc && inc.priority <= 2 && (!was || was.priority > 2)) alarm.play(inc.priority);
    }
  }

  function showCounts() {
    const urgent = urgentUnacknowledged(state);
    const title = t('console.title');
    document.title = urgent ? `(${urgent}) ${title}` : title;
    $('#queue-count').textContent = t('console.queueCount', { n: state.incidents.size });
    $('#sync').textContent = state.ready ? '' : t('console.sync.waiting');
  }

  const soundButton = $('#sound');
  soundButton.addEventListener('click', () => {
    const on = alarm.toggle();
    soundButton.setAttribute('aria-pressed', String(on));
  });
  const dialog = $('#keys-dialog');
  fillKeysDialog(dialog);
  const help = () => (dialog.open ? dialog.close() : dialog.showModal());
  $('#help').addEventListener('click', help);
  bindKeys({
    next: () => select(neighbour(state, selected, 1), { focus: true }),
    previous: () => select(neighbour(state, selected, -1), { focus: true }),
    acknowledge: () => panel.acknowledge(),
    dispatch: () => panel.dispatch(),
    notice: () => $('#notice-text').focus(),
    sound: () => soundButton.click(),
    help,
  }, dialog);

  const stats = new StatsView($('#stats-dialog'), {
    fetchStats: (query) => getJSON(`/api/v1/stats?${query}`, token),
    download: (query, format) => download(`/api/v1/stats?${query}&format=${format}`, token),
    label,
    categories: town.categories.map((c) => c.id),
  });
  $('#stats-open').addEventListener('click', () => stats.open());
  const hotspots = new HotspotLayer(map.map, {
    fetchGeoJSON: (query) => getJSON(`/api/v1/stats?${query}&format=geojson`, token),
    period: () => stats.period() || defaultPeriod(),
    label,
  });
  stats.onLoad = () => hotspots.refresh().catch((err) => console.warn('hot spots', err));
  const hotspotsButton = $('#hotspots');
  hotspotsButton.addEventListener('click', async () => {
    const on = !hotspots.shown;
    hotspotsButton.setAttribute('aria-pressed', String(on));
    if (!on) { hotspots.hide(); return; }
    try {
      await hotspots.show();
    } catch (err) {
      hotspotsButton.setAttribute('aria-pressed', 'false');
      $('#sync').textContent = errorText(err, 'console.errors');
    }
  });

  let ticks = 0;
  setInterval(() => {
    const now = Date.now();
    queue.tick(state, now);
    units.tick(state, now);
    ticks += 1;
    if (ticks % MAP_TICK_EVERY === 0) map.tick(state, now);
  }, 1000);

  connectionBadge($('#connection'), conn);
  showCounts();
  conn.start();
  // For tests and the benchmark: read-only views of what the page holds.
  window.vigieConsole = {
    state: () => state, selected: () => selected, labels: () => map.labels.drawn(),
    gathered: () => map.labels.gathered(), alarm, conn, stats, hotspots,
  };
}

/** Save an export (the API wants the bearer token, so no plain link). */
async function download(path, token) {
  const reply = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
  const name = /filename="([^"]+)"/.exec(reply.headers.get('content-disposition') || '')?.[1] || 'vigie-stats';
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await reply.blob());
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

main().catch((err) => {
  if (err.status === 401) {
    signInAgain('console'); // a token the hub refuses: sign in again (dev) or the signed-out notice
    return;
  }
  console.error('console failed to start', err);
  const sync = document.getElementById('sync');
  if (sync) sync.textContent = t('console.errors.start');
});
