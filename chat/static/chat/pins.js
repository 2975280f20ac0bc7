// The room header's pinned messages: a "Pinned (N)" button, shown while the open room
// has pins, that opens a short list of them (newest pin first). Choosing one shows the
// message in the timeline, loading history back to it if it must. A disclosure button
// with a list of buttons: Enter or Space opens it onto the first pin, Up and Down (Home,
// End) move, Esc closes back onto the button, and so does a click outside.
import { button, byId, el, hiddenText, whenFormat } from "./dom.js";
import { t } from "./i18n.js";

export class PinsPanel {
  #els;
  #ui;
  #on;
  // What the list was last drawn from, so an unchanged room redraws nothing.
  #drawn = "";

  /** `ui` is the UiState; `on.jumpTo(seq)` shows message `seq` of the open room,
   * `on.pin(message, on)` pins or unpins one ({room, id}). */
  constructor({ ui, on }) {
    this.#els = byId(["pins-wrap", "pins-toggle", "pins-toggle-label", "pins-popup", "pins-list"]);
    this.#ui = ui;
    this.#on = on;
    this.#bind();
  }

  /** The open room or its pins changed: the button's count and the list. */
  showRoom() {
    const pins = this.#ui.removed ? [] : (this.#ui.room?.pins ?? []);
    const els = this.#els;
    els["pins-wrap"].hidden = pins.length === 0;
    if (!pins.length) this.close();
    const key = JSON.stringify([this.#ui.roomId, pins]);
    if (key === this.#drawn) return;
    this.#drawn = key;
    els["pins-toggle-label"].textContent = t("Pinned (%s)", pins.length);
    const hadFocus = els["pins-list"].contains(document.activeElement);
    const room = this.#ui.room;
    // Who may unpin is the server's rule (chat/access.py); this only leaves out a button
    // that could not work.
    const unpins = room?.kind === "direct" || ["owner", "admin"].includes(room?.role);
    els["pins-list"].replaceChildren(...pins.map((pin) => pinItem(pin, { unpins })));
    if (hadFocus) this.#items()[0]?.focus();
  }

  get isOpen() {
    return this.#ui.pinsOpen;
  }

  open() {
    const els = this.#els;
    this.#ui.pinsOpen = true;
    els["pins-popup"].hidden = false;
    els["pins-toggle"].setAttribute("aria-expanded", "true");
    this.#items()[0]?.focus();
  }

  close({ refocus = false } = {}) {
    if (!this.#ui.pinsOpen) return;
    const els = this.#els;
    this.#ui.pinsOpen = false;
    els["pins-popup"].hidden = true;
    els["pins-toggle"].setAttribute("aria-expanded", "false");
    if (refocus) els["pins-toggle"].focus();
  }

  #items() {
    return [...this.#els["pins-list"].querySelectorAll("button[data-seq]")];
  }

  #move(key) {
    const items = this.#items();
    const at = items.indexOf(document.activeElement);
    const steps = {
      ArrowDown: (at + 1) % items.length,
      ArrowUp: (at - 1 + items.length) % items.length,
      Home: 0,
      End: items.length - 1,
    };
    if (!(key in steps) || !items.length) return false;
    items[steps[key]].focus();
    return true;
  }

  #bind() {
    const els = this.#els;
    els["pins-toggle"].addEventListener("click", () => {
      if (this.isOpen) this.close();
      else this.open();
    });
    els["pins-list"].addEventListener("click", (event) => {
      const unpin = event.target.closest("button[data-unpin]");
      if (unpin) {
        this.#items()[0]?.focus(); // the list is redrawn without it
        this.#on.pin({ room: this.#ui.roomId, id: Number(unpin.dataset.unpin) }, false);
        return;
      }
      const item = event.target.closest("button[data-seq]");
      if (!item) return;
      this.close();
      this.#on.jumpTo(Number(item.dataset.seq));
    });
    els["pins-popup"].addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close({ refocus: true });
      } else if (this.#move(event.key)) {
        event.preventDefault();
      }
    });
    els["pins-wrap"].addEventListener("focusout", (event) => {
      if (event.relatedTarget && !els["pins-wrap"].contains(event.relatedTarget)) this.close();
    });
    document.addEventListener("pointerdown", (event) => {
      if (this.isOpen && !els["pins-wrap"].contains(event.target)) this.close();
    });
  }
}

/** One pin: who wrote the message and its first line, then who pinned it and when; and,
 * for those who may (`unpins`), a button that unpins it. */
function pinItem(pin, { unpins }) {
  const { message } = pin;
  const item = button("pins-item");
  item.dataset.seq = message.seq;
  const when = whenFormat.format(new Date(pin.pinned_at));
  const by = t("Pinned by %s, %s", pin.pinned_by.display_name, when);
  item.append(
    el("span", "pins-item-author", message.author.display_name),
    hiddenText(": "),
    el("span", "pins-item-excerpt", message.excerpt || "…"),
    hiddenText(". "),
    el("span", "pins-item-by", by),
  );
  const li = el("li");
  li.append(item);
  if (unpins) {
    const unpin = button("pins-unpin", t("Unpin"));
    unpin.dataset.unpin = message.id;
    unpin.setAttribute("aria-label", t("Unpin: %s", message.excerpt || "…"));
    li.append(unpin);
  }
  return li;
}
