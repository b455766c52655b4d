// Persistence of the citizen app in IndexedDB, so that a reload (or a phone
// that kills the tab) keeps my alerts, the reports still waiting to be sent and
// the inbox offset the timeline is up to. The state is one record per resident,
// written whole (a few dozen alerts at most); each waiting report is ALSO a
// record of its own, written before it is sent and deleted once acked, so that
// no write of the state (another tab's, say) can make a report disappear.
// The last tenant configuration is kept too, so the app opens offline.

const DB = 'vigie-app';
const STORE = 'kv';

let opened = null;

function db() {
  opened ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return opened;
}

function run(mode, action) {
  return db().then((d) => new Promise((resolve, reject) => {
    const tx = d.transaction(STORE, mode);
    const req = action(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  }));
}

/** The value stored under `key`, or undefined. */
export function load(key) {
  return run('readonly', (s) => s.get(key));
}

/** Store `value` under `key`; resolves once it is on disk (the transaction committed). */
export function save(key, value) {
  return run('readwrite', (s) => s.put(value, key));
}

/** Delete the record under `key`. */
export function remove(key) {
  return run('readwrite', (s) => s.delete(key));
}

/** Every value whose key starts with `prefix`. */
export function loadAll(prefix) {
  return run('readonly', (s) => s.getAll(IDBKeyRange.bound(prefix, `${prefix}\uffff`)));
}

/**
 * Saves of one key in order, coalesced: while a write is running, only the
 * latest value waits for the next one. `flush()` resolves when the latest
 * value given is stored.
 */
export class Saver {
  constructor(key) {
    this.key = key;
    this.pending = undefined;
    this.running = null;
  }

  /** Store `value` soon; returns a promise resolved once it (or a newer value) is stored. */
  put(value) {
    this.pending = value;
    this.running ??= this.drain();
    return this.running;
  }

  async drain() {
    try {
      while (this.pending !== undefined) {
        const value = this.pending;
        this.pending = undefined;
        await save(this.key, value);
      }
    } finally {
      this.running = null;
    }
  }
}
