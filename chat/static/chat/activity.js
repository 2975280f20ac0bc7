// Whether the user is at the keyboard: "idle" after IDLE_AFTER_MS without keyboard, mouse or
// touch input (a hidden tab gets none, so a tab hidden that long is idle too), "active" again
// on the next input or when the tab is shown. Events: "change" (detail {status}), on changes only.

export const IDLE_AFTER_MS = 5 * 60 * 1000;
const INPUT_EVENTS = ["keydown", "pointerdown", "pointermove", "mousemove", "wheel", "touchstart"];

export class ActivityMonitor extends EventTarget {
  status = "active";
  #idleAfter;
  #lastInput = Date.now();
  #timer = 0;

  constructor({ idleAfter = IDLE_AFTER_MS } = {}) {
    super();
    this.#idleAfter = idleAfter;
  }

  start() {
    const input = () => this.#input();
    for (const type of INPUT_EVENTS) {
      window.addEventListener(type, input, { capture: true, passive: true });
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.#input();
    });
    this.#schedule(this.#idleAfter);
  }

  // Input only stamps the time (mousemove fires often); the one timer checks it when due.
  #input() {
    this.#lastInput = Date.now();
    if (this.status === "idle") this.#set("active");
    if (!this.#timer) this.#schedule(this.#idleAfter);
  }

  #schedule(delay) {
    this.#timer = setTimeout(() => this.#check(), delay);
  }

  #check() {
    this.#timer = 0;
    const quiet = Date.now() - this.#lastInput;
    if (quiet >= this.#idleAfter) this.#set("idle");
    else this.#schedule(this.#idleAfter - quiet);
  }

  #set(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("change", { detail: { status } }));
  }
}
