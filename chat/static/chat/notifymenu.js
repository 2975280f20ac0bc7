// The room header's notifications menu: how much of the open room notifies the user
// (its default, all messages, mentions only, nothing), and a link to the notification
// settings where the default is chosen. A menu button with radio items, after the
// WAI-ARIA menu button pattern: Enter, Space or Down opens it on the chosen item, Up and
// Down (Home, End) move, Enter or Space chooses, Esc closes back onto the button.
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { levelName, notifyLevel } from "./notify.js";

const LEVELS = ["default", "all", "mentions", "nothing"];

export class NotifyMenu {
  #wrap;
  #button;
  #label;
  #menu;
  #radios;
  #on;
  #room = null;

  /** `on.setNotify(level)` stores the open room's choice (every tab hears a room frame). */
  constructor({ on }) {
    this.#wrap = document.getElementById("notify-menu-wrap");
    this.#button = document.getElementById("notify-toggle");
    this.#label = document.getElementById("notify-toggle-label");
    this.#menu = document.getElementById("notify-menu");
    this.#on = on;
    this.#radios = LEVELS.map((level) => {
      const item = el("button", "notify-choice");
      item.type = "button";
      item.dataset.notify = level;
      item.setAttribute("role", "menuitemradio");
      item.setAttribute("aria-checked", "false");
      item.tabIndex = -1;
      return item;
    });
    this.#menu.prepend(...this.#radios);
    this.#bind();
  }

  /** The open room (null: none) and whether the user is a member, who alone may choose. */
  showRoom(room, member) {
    this.#room = member ? room : null;
    this.#wrap.hidden = !this.#room;
    if (!this.#room) {
      this.close();
      return;
    }
    const level = notifyLevel(room);
    const label = t("Notifications for this room: %s", levelName(level));
    this.#button.dataset.level = level;
    this.#button.title = label;
    this.#label.textContent = label;
    for (const item of this.#radios) {
      const choice = item.dataset.notify;
      item.textContent =
        choice === "default" ? t("Default (%s)", levelName(room.notify_default)) : levelName(choice);
      item.setAttribute("aria-checked", String(choice === room.notify));
    }
  }

  get isOpen() {
    return !this.#menu.hidden;
  }

  /** Opens the menu with focus on the chosen item (or the first, or the last). */
  open(which = "chosen") {
    this.#menu.hidden = false;
    this.#button.setAttribute("aria-expanded", "true");
    const items = this.#items();
    const chosen = items.find((item) => item.getAttribute("aria-checked") === "true");
    const target = { chosen: chosen ?? items[0], first: items[0], last: items.at(-1) }[which];
    target.focus();
  }

  close({ refocus = false } = {}) {
    if (this.#menu.hidden) return;
    this.#menu.hidden = true;
    this.#button.setAttribute("aria-expanded", "false");
    if (refocus) this.#button.focus();
  }

  #items() {
    return [...this.#menu.querySelectorAll('[role^="menuitem"]')];
  }

  #move(event) {
    const items = this.#items();
    const at = items.indexOf(document.activeElement);
    const steps = {
      ArrowDown: (at + 1) % items.length,
      ArrowUp: (at - 1 + items.length) % items.length,
      Home: 0,
      End: items.length - 1,
    };
    if (!(event.key in steps)) return false;
    items[steps[event.key]].focus();
    return true;
  }

  #bind() {
    this.#button.addEventListener("click", () => {
      if (this.isOpen) this.close();
      else this.open();
    });
    this.#button.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      event.preventDefault();
      this.open(event.key === "ArrowDown" ? "chosen" : "last");
    });
    this.#menu.addEventListener("click", (event) => {
      const item = event.target.closest("[data-notify]");
      if (!item || !this.#room) return;
      this.close({ refocus: true });
      if (item.dataset.notify !== this.#room.notify) this.#on.setNotify(item.dataset.notify);
    });
    this.#menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close({ refocus: true });
      } else if (event.key === "Tab") {
        this.close();
      } else if (this.#move(event)) {
        event.preventDefault();
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (this.isOpen && !this.#wrap.contains(event.target)) this.close();
    });
  }
}
