// Keep the screen on while the tablet is open (Screen Wake Lock API), where the
// browser has it. The browser releases the lock when the page is hidden, so it
// is asked for again each time the page becomes visible.

/**
 * Hold a screen wake lock as long as the page is open.
 * @param {(held: boolean) => void} onChange told whether the lock is held
 */
export function keepScreenOn(onChange = () => {}) {
  if (!('wakeLock' in navigator)) {
    onChange(false);
    return;
  }
  let lock = null;

  async function acquire() {
    if (document.visibilityState !== 'visible' || (lock && !lock.released)) return;
    try {
      lock = await navigator.wakeLock.request('screen');
      onChange(true);
      lock.addEventListener('release', () => onChange(false));
    } catch {
      onChange(false); // refused (battery saver, no user activation): the tablet still works
    }
  }

  document.addEventListener('visibilitychange', acquire);
  acquire();
}
