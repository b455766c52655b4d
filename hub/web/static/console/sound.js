// A short tone for a new P1/P2, made with WebAudio (no sound file). Browsers
// block audio until the page gets a gesture, so the operator switches it on.

export class Alarm {
  constructor() {
    this.context = null;
    this.enabled = false;
    this.played = 0; // how many tones, for tests
  }

  /** Switch on (creating the AudioContext inside the click) or off. */
  toggle() {
    this.enabled = !this.enabled;
    if (this.enabled && !this.context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      this.context = Context ? new Context() : null;
    }
    this.context?.resume?.();
    return this.enabled;
  }

  /** Two short beeps for P1, one for P2. */
  play(priority) {
    if (!this.enabled || !this.context) return;
    this.played += 1;
    const beeps = priority === 1 ? 2 : 1;
    for (let i = 0; i < beeps; i += 1) this.beep(this.context.currentTime + i * 0.25);
  }

  beep(at) {
    const osc = this.context.createOscillator();
    const gain = this.context.createGain();
    osc.type = 'sine';
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
    osc.connect(gain).connect(this.context.destination);
    osc.start(at);
    osc.stop(at + 0.2);
  }
}
