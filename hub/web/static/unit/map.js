// A small map (Leaflet, no tiles unless the tenant configures them): the town
// outline, this unit, and the assigned incident's H3 hexagon. Layers are made
// once and moved or restyled, never rebuilt. Without Leaflet (script missing)
// the tablet works without a map.
/* global L */

import { cells as fetchCells } from '../shared/api.js';

const FOLLOW_ZOOM = 15;

/**
 * @param {HTMLElement} el the map's container (hidden until there is something to show)
 * @returns {{showUnit(lat, lon), showIncident(incident|null)} | null} null without Leaflet
 */
export function createMapView(el, tenant, token) {
  if (typeof L === 'undefined' || !tenant) return null;
  const map = L.map(el, { attributionControl: Boolean(tenant.tiles), keyboard: false });
  if (tenant.tiles) L.tileLayer(tenant.tiles.url, { attribution: tenant.tiles.attribution }).addTo(map);
  if (tenant.outline) L.geoJSON(tenant.outline, { interactive: false, style: { className: 'town-outline' } }).addTo(map);
  map.fitBounds(tenant.bounds);
  let me = null; // circle marker of this unit
  let hex = null; // {cell, layer} of the assigned incident
  let wanted = null; // the cell being fetched or shown

  function frame() {
    const points = [];
    if (me) points.push(me.getLatLng());
    if (hex && hex.layer) points.push(...hex.layer.getLatLngs()[0]);
    if (points.length === 1) map.setView(points[0], FOLLOW_ZOOM);
    else if (points.length > 1) map.fitBounds(L.latLngBounds(points), { padding: [20, 20], maxZoom: 16 });
  }

  async function drawCell(incident) {
    const cell = incident.cell;
    wanted = cell;
    let geometry;
    try {
      geometry = await fetchCells(token, [cell]);
    } catch {
      return; // the outline is a help; the mission panel says where it is
    }
    if (wanted !== cell) return; // the mission changed meanwhile
    const layer = L.geoJSON(geometry, {
      interactive: false,
      style: { className: `hex hex-p${incident.priority}`, weight: 3 },
    }).getLayers()[0];
    if (!layer) return;
    hex = { cell, layer: layer.addTo(map) };
    frame();
  }

  return {
    /** Move this unit's marker. */
    showUnit(lat, lon) {
      const first = !me;
      if (first) me = L.circleMarker([lat, lon], { radius: 9, className: 'me', interactive: false }).addTo(map);
      else me.setLatLng([lat, lon]);
      if (first) frame();
    },
    /** Show the assigned incident's hexagon, or none. */
    showIncident(incident) {
      const cell = incident ? incident.cell : null;
      if (cell === wanted) return;
      if (hex) hex.layer.remove();
      hex = null;
      wanted = null;
      if (incident && cell) drawCell(incident);
      else frame();
    },
    /** Leaflet measures its container: call when it was resized or shown. */
    resize() {
      map.invalidateSize();
    },
  };
}
