// A message's actions as a menu, for phones and touch screens, where a toolbar on every
// message would crowd the conversation: a sheet at the bottom of the screen with the quick
// reactions (and "More emoji"), Reply, Edit, Delete and Copy text, as the user's
// permissions allow. A tap on a message (not on a link, an image or a button in it), a
// long press or the context-menu key opens it. It only chooses: the actions run where the
// toolbar's do (actions.js). After the WAI-ARIA menu pattern: focus moves in, arrows
// move, Esc, Tab or a tap outside close it and give focus back.
import { button, el, svgIcon } from "./dom.js";
import { t } from "./i18n.js";
import { ACTIONS, QUICK_EMOJI, SMILE_PATH, reactedWith } from "./message.js";

/** Where messages show no toolbar but this menu: narrow screens (as the drawer) and touch. */
export const MENU_MEDIA = window.matchMedia("(max-width: 760px), (hover: none)");
const LONG_PRESS_MS = 500;
const MOVE_SLOP_PX = 10;
// A tap on these does what they do; it does not open the menu.
const OWN_TAP = "a, button, img, video, audio, input, textarea, select, label, .reaction-picker";
// A long press on these keeps the browser's own menu (open a link, save an image).
const OWN_MENU = "a, img, video, audio, input, textarea, select";
const COPY_PATH =
  "M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7" +
  "a2 2 0 0 0-2-2zm0 16H8V7h11v14z";

/** The message a tap or a press on `target` is about, or null. */
function messageAt(target, skip) {
  const li = target.closest("li.msg");
  if (!li || li.classList.contains("msg-pending") || li.classList.contains("msg-editing")) {
    return null;
  }
  return target.closest(skip) ? null : li;
}

function menuItem(action, label, path = null) {
  const item = button("msg-menu-item");
  item.dataset.action = action;
  item.setAttribute("role", "menuitem");
  item.tabIndex = -1;
  if (path) item.append(svgIcon(path));
  item.append(el("span", "", label));
  return item;
}

export class MessageMenu {
  #sheet;
  #title;
  #menu;
  #on;
  // The open menu: {li, opener (focused again on closing)}, or null.
  #open = null;
  // A press that may become a long one: {id, x, y, timer}, or null.
  #press = null;
  // A long press opened the menu: the click that may follow it is not a tap.
  #pressed = false;
  #backdropDown = false;

  constructor() {
    this.#sheet = el("div", "msg-sheet");
    this.#sheet.hidden = true;
    const backdrop = el("div", "msg-sheet-backdrop");
    const panel = el("div", "msg-sheet-panel");
    this.#title = el("p", "msg-sheet-title");
    this.#title.id = "msg-menu-title";
    this.#menu = el("div", "msg-menu");
    this.#menu.id = "msg-menu";
    this.#menu.setAttribute("role", "menu");
    this.#menu.setAttribute("aria-labelledby", this.#title.id);
    // A tap between the items keeps focus in the sheet.
    panel.tabIndex = -1;
    panel.append(this.#title, this.#menu);
    this.#sheet.append(backdrop, panel);
    document.body.append(this.#sheet);
    backdrop.addEventListener("pointerdown", () => {
      this.#backdropDown = true;
    });
    backdrop.addEventListener("click", () => {
      if (this.#backdropDown) this.close({ refocus: true });
      this.#backdropDown = false;
    });
    this.#bindMenu();
  }

  get isOpen() {
    return this.#open !== null;
  }

  /**
   * Listens for taps, long presses and the context menu on the messages in `list`.
   * `on.describe(li)` → {message, permissions, me} for a message's node, or null;
   * `on.choose(li, action, {emoji, pressed})` runs an action as the toolbar would.
   */
  bind(list, on) {
    this.#on = on;
    list.addEventListener("click", (event) => {
      const pressed = this.#pressed;
      this.#pressed = false;
      if (!MENU_MEDIA.matches || pressed || event.defaultPrevented) return;
      const li = messageAt(event.target, OWN_TAP);
      if (li && !window.getSelection()?.toString()) this.open(li);
    });
    list.addEventListener("pointerdown", (event) => {
      this.#pressed = false;
      this.#cancelPress();
      if (!MENU_MEDIA.matches || event.button !== 0 || !event.isPrimary) return;
      const li = messageAt(event.target, OWN_TAP);
      if (!li) return;
      const timer = setTimeout(() => {
        this.#press = null;
        this.#pressed = true;
        this.open(li);
      }, LONG_PRESS_MS);
      this.#press = { id: event.pointerId, x: event.clientX, y: event.clientY, timer };
    });
    list.addEventListener("pointermove", (event) => {
      const press = this.#press;
      if (!press || press.id !== event.pointerId) return;
      if (Math.hypot(event.clientX - press.x, event.clientY - press.y) > MOVE_SLOP_PX) {
        this.#cancelPress();
      }
    });
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
      list.addEventListener(type, () => this.#cancelPress());
    }
    document.addEventListener("scroll", () => this.#cancelPress(), { capture: true, passive: true });
    // A phone's own long press, or the context-menu key on something in a message.
    list.addEventListener("contextmenu", (event) => {
      if (!MENU_MEDIA.matches) return;
      const li = messageAt(event.target, OWN_MENU);
      if (!li) return;
      event.preventDefault();
      this.#cancelPress();
      if (this.#open?.li !== li) this.open(li);
    });
  }

  #cancelPress() {
    if (this.#press) clearTimeout(this.#press.timer);
    this.#press = null;
  }

  /** Opens the menu for the message `li`; false when the user can do nothing to it. */
  open(li) {
    const about = this.#on.describe(li);
    if (!about || about.permissions === "") return false;
    const focused = document.activeElement;
    this.close();
    const { message, permissions, me } = about;
    this.#title.textContent = t("Message from %s", message.author.display_name);
    const items = [];
    if (permissions.includes("r")) items.push(this.#reactions(message, me));
    for (const { action, need, label, path } of ACTIONS) {
      if (action !== "picker" && permissions.includes(need)) {
        items.push(menuItem(action, t(label), path));
      }
    }
    if (message.body && navigator.clipboard) items.push(menuItem("copy", t("Copy text"), COPY_PATH));
    items.push(menuItem("cancel", t("Cancel")));
    this.#menu.replaceChildren(...items);
    li.tabIndex = -1;
    this.#open = { li, opener: li.contains(focused) && focused !== li ? focused : li };
    li.classList.add("msg-menu-open");
    this.#sheet.hidden = false;
    this.#items()[0].focus();
    return true;
  }

  /** The quick reactions, pressed where the user reacted, and "More emoji". */
  #reactions(message, me) {
    const group = el("div", "msg-menu-reactions");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", t("Pick a reaction"));
    for (const emoji of QUICK_EMOJI) {
      const item = button("msg-menu-emoji", emoji);
      item.dataset.action = "pick";
      item.dataset.emoji = emoji;
      item.tabIndex = -1;
      item.setAttribute("role", "menuitemcheckbox");
      item.setAttribute("aria-checked", String(reactedWith(message, emoji, me.id)));
      item.setAttribute("aria-label", t("React with %s", emoji));
      group.append(item);
    }
    const more = button("msg-menu-emoji msg-menu-more");
    more.dataset.action = "more-emoji";
    more.tabIndex = -1;
    more.setAttribute("role", "menuitem");
    more.setAttribute("aria-haspopup", "dialog");
    more.setAttribute("aria-label", t("More emoji"));
    more.title = t("More emoji");
    more.append(svgIcon(SMILE_PATH));
    group.append(more);
    return group;
  }

  close({ refocus = false } = {}) {
    const open = this.#open;
    if (!open) return;
    this.#open = null;
    this.#sheet.hidden = true;
    this.#menu.replaceChildren();
    open.li.classList.remove("msg-menu-open");
    if (refocus && open.opener.isConnected) open.opener.focus({ preventScroll: true });
  }

  #items() {
    return [...this.#menu.querySelectorAll('[role^="menuitem"]')];
  }

  #choose(item) {
    const { li } = this.#open;
    const { action, emoji } = item.dataset;
    const pressed = item.getAttribute("aria-checked") === "true";
    // Focus goes back first: an action may move it on (the composer, the editor, a picker).
    this.close({ refocus: true });
    if (action === "copy") {
      const message = this.#on.describe(li)?.message;
      if (message?.body) navigator.clipboard.writeText(message.body).catch(() => {});
    } else if (action !== "cancel") {
      this.#on.choose(li, action, { emoji, pressed });
    }
  }

  #move(key) {
    const items = this.#items();
    const at = items.indexOf(document.activeElement);
    const steps = {
      ArrowDown: at + 1,
      ArrowRight: at + 1,
      ArrowUp: at - 1,
      ArrowLeft: at - 1,
      Home: 0,
      End: items.length - 1,
    };
    if (!(key in steps)) return false;
    items[(steps[key] + items.length) % items.length].focus();
    return true;
  }

  #bindMenu() {
    // The sheet is a world of its own: its clicks do not reach the page's (which would
    // close the emoji picker a menu item has just opened).
    this.#menu.addEventListener("click", (event) => {
      event.stopPropagation();
      const item = event.target.closest("[data-action]");
      if (item && this.#open) this.#choose(item);
    });
    this.#menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" || event.key === "Tab") {
        event.preventDefault();
        event.stopPropagation();
        this.close({ refocus: true });
      } else if (!event.altKey && !event.ctrlKey && !event.metaKey && this.#move(event.key)) {
        event.preventDefault();
      }
    });
    // Esc from anywhere while it is open; focus gone elsewhere (a screen reader) closes it.
    document.addEventListener("keydown", (event) => {
      if (!this.#open || event.key !== "Escape" || event.defaultPrevented) return;
      event.preventDefault();
      this.close({ refocus: true });
    });
    this.#sheet.addEventListener("focusout", (event) => {
      const next = event.relatedTarget;
      if (next && !this.#sheet.contains(next)) this.close();
    });
    window.addEventListener("resize", () => {
      if (this.#open && !MENU_MEDIA.matches) this.close({ refocus: true });
    });
  }
}
