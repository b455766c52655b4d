// The map of the report: the town outline (no tiles unless the tenant
// configures a tile URL) and a pin the resident moves by dragging it or by
// tapping the map. Leaflet is the classic script loaded before the modules
// (window.L). The view only reports where the pin is; it keeps no other state.

const L = window.L;
// With tiles, streets show at this zoom and the pin can be placed at the right door.
// Without tiles there is nothing to place it against but the town outline, so the
// map keeps showing the whole town (the resident may still zoom in).
const STREET_ZOOM = 16;
const NUDGE_PX = 8;
const KEY_STEPS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };

export class PinMap {
  /**
   * @param {HTMLElement} el the map's container
   * @param {object} tenant the tenant configuration (outline, bounds, center, tiles)
   * @param {{onMove(lat: number, lon: number): void, pinLabel: string}} options
   */
  constructor(el, tenant, { onMove, pinLabel }) {
    this.onMove = onMove;
    this.streets = Boolean(tenant.tiles);
    this.map = L.map(el, { zoomControl: true, attributionControl: Boolean(tenant.tiles) });
    if (tenant.tiles) {
      L.tileLayer(tenant.tiles.url, { attribution: tenant.tiles.attribution || '' }).addTo(this.map);
    }
    if (tenant.outline) {
      L.geoJSON(tenant.outline, { style: { className: 'town-outline' }, interactive: false }).addTo(this.map);
    }
    this.map.fitBounds(tenant.bounds);
    const [lat, lon] = tenant.center;
    const icon = L.divIcon({ className: 'pin', html: '', iconSize: [28, 28], iconAnchor: [14, 28] });
    this.pin = L.marker([lat, lon], { draggable: true, icon, title: pinLabel, alt: pinLabel, keyboard: true })
      .addTo(this.map);
    this.pin.on('dragend', () => this.moved());
    this.pin.getElement().addEventListener('keydown', (e) => this.nudge(e));
    this.map.on('click', (e) => {
      this.pin.setLatLng(e.latlng);
      this.moved();
    });
  }

  /** Put the pin at (lat, lon) and show it (at street level when there are streets to see). */
  setPin(lat, lon) {
    this.pin.setLatLng([lat, lon]);
    if (this.streets) this.map.setView([lat, lon], Math.max(this.map.getZoom(), STREET_ZOOM));
    else if (!this.map.getBounds().contains([lat, lon])) this.map.panTo([lat, lon]);
  }

  /** Where the pin is: [lat, lon]. */
  position() {
    const { lat, lng } = this.pin.getLatLng();
    return [lat, lng];
  }

  /** Leaflet measures its container: call when the container's size changed. */
  resize() {
    this.map.invalidateSize();
  }

  /** Arrow keys on the focused pin move it (Leaflet only drags it with a pointer). */
  nudge(e) {
    const step = KEY_STEPS[e.key];
    if (!step) return;
    e.preventDefault();
    const at = this.map.latLngToContainerPoint(this.pin.getLatLng()).add(L.point(step).multiplyBy(NUDGE_PX));
    this.pin.setLatLng(this.map.containerPointToLatLng(at));
    this.moved();
  }

  moved() {
    const [lat, lon] = this.position();
    this.onMove(lat, lon);
  }
}
