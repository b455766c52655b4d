// The map of the report: the town outline (no tiles unless the tenant
// configures a tile URL) and a pin the resident moves by dragging it or by
// tapping the map. Leaflet is the classic script loaded before the modules
// (window.L). The view only reports where the pin is; it keeps no other state.

const L = window.L;
// Close enough to place the pin to a few tens of metres (1 px ≈ 38 m, a fifth of a cell), far enough to see the town outline.
const PIN_ZOOM = 12;

export class PinMap {
  /**
   * @param {HTMLElement} el the map's container
   * @param {object} tenant the tenant configuration (outline, bounds, center, tiles)
   * @param {{onMove(lat: number, lon: number): void, pinLabel: string}} options
   */
  constructor(el, tenant, { onMove, pinLabel }) {
    this.onMove = onMove;
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
    this.map.on('click', (e) => {
      this.pin.setLatLng(e.latlng);
      this.moved();
    });
  }

  /** Put the pin at (lat, lon) and show it, closer in than the whole town. */
  setPin(lat, lon) {
    this.pin.setLatLng([lat, lon]);
    this.map.setView([lat, lon], Math.max(this.map.getZoom(), PIN_ZOOM));
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

  moved() {
    const [lat, lon] = this.position();
    this.onMove(lat, lon);
  }
}
