// Where the resident is: the browser's geolocation, put on the map's pin,
// with a clear message when it is refused or unavailable (the pin then stays
// at the town centre, to be moved by hand). Knows the pin only through the map view.

import { t } from '/static/shared/i18n.js';

const OPTIONS = { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 };

export class Position {
  /**
   * @param {import('./views/map.js').PinMap} map
   * @param {HTMLElement} message where to say what happened
   * @param {(fix: {lat: number, lon: number, accuracy: number}) => void} onFix a device position
   */
  constructor(map, message, onFix) {
    this.map = map;
    this.message = message;
    this.onFix = onFix;
    this.device = null; // the last device position {lat, lon, accuracy}
    this.moved = false; // the resident placed the pin by hand: a later fix does not move it
  }

  /**
   * Ask the browser for the position and put the pin there. `auto` (the ask on
   * opening): a fix that comes after the resident placed the pin by hand does not move it.
   */
  locate({ auto = false } = {}) {
    if (!('geolocation' in navigator)) {
      this.say('app.geo.unavailable', 'error');
      return;
    }
    this.say('app.geo.asking');
    navigator.geolocation.getCurrentPosition((p) => this.found(p, auto), (e) => this.failed(e), OPTIONS);
  }

  /** The resident moved the pin. */
  pinMoved() {
    this.moved = true;
    this.say('app.geo.moved');
  }

  /** accuracy_m of a report at the pin: the device's, unless the pin was placed by hand. */
  accuracy() {
    return this.device && !this.moved ? Math.round(this.device.accuracy) : null;
  }

  found(p, auto) {
    const { latitude: lat, longitude: lon, accuracy } = p.coords;
    this.device = { lat, lon, accuracy };
    this.onFix(this.device);
    if (auto && this.moved) return; // the resident's placing wins over a late fix
    this.moved = false;
    this.map.setPin(lat, lon);
    this.say('app.geo.found', 'info', { metres: Math.round(accuracy) });
  }

  failed(error) {
    if (this.moved) return; // the pin is already where the resident put it
    const refused = error.code === error.PERMISSION_DENIED;
    this.say(refused ? 'app.geo.refused' : 'app.geo.unavailable', 'error');
  }

  say(key, kind = 'info', params = {}) {
    this.message.textContent = t(key, params);
    this.message.dataset.kind = kind;
  }
}
