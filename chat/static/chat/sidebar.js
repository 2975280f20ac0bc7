// The sidebar: the user's rooms and direct messages (badges, presence dots, the
// filter box, Alt+Up/Down between rooms), and on narrow screens the drawer it becomes
// behind the ☰ button, where the rooms come first and the message search after them.
import { avatar, byId, el, hiddenText, presenceDot, reconcile, svgIcon } from "./dom.js";
import { t } from "./i18n.js";

const LOCK_PATH =
  "M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9" +
  "a1 1 0 0 1 1-1h1zm2 0h6V7a3 3 0 0 0-6 0v3z";
const BELL_OFF_PATH =
  "M20 18.69 7.84 6.14 5.27 3.49 4 4.76l2.8 2.8v.01c-.52.99-.8 2.16-.8 3.42v5l-2 2v1h13.73l2 2" +
  "L21 19.72l-1-1.03zM12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-7.32V11c0-3.08-1.64-5.64-4.5-6.32" +
  "V4a1.5 1.5 0 0 0-3 0v.68c-.76.18-1.47.5-2.1.93L18 14.68z";

/** Text folded for matching: lower case, accents dropped ("É" finds "e"). */
function fold(text) {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

/** Screens where the sidebar is a drawer (the CSS's breakpoint). */
const DRAWER_MEDIA = window.matchMedia("(max-width: 760px)");

export class Sidebar {
  #root;
  #els;
  #ui;
  #on;
  #presenceOf;

  /**
   * `root` is the chat page (it carries `sidebar-open`), `ui` the UiState,
   * `presenceOf(userId)` someone's status; `on`: openRoom(id).
   */
  constructor(root, { ui, presenceOf, on }) {
    this.#els = byId([
      "chat-sidebar", "sidebar-toggle", "room-list", "rooms-empty", "room-filter",
      "rooms-unmatched", "search-form", "room-list-nav",
    ]);
    this.#root = root;
    this.#ui = ui;
    this.#presenceOf = presenceOf;
    this.#on = on;
    this.#bind();
  }

  /** The rooms, most recently active first; the open one (ui.roomId) is marked current. */
  renderRooms(rooms) {
    const openId = this.#ui.roomId;
    this.#els["rooms-empty"].hidden = rooms.length > 0;
    reconcile(
      this.#els["room-list"],
      rooms.map((room) => ({ key: String(room.id), room })),
      (item) => {
        const li = el("li");
        this.#fillRoomItem(li, item.room, openId);
        return li;
      },
      (li, item) => this.#fillRoomItem(li, item.room, openId),
    );
    this.#applyFilter();
  }

  /** Opens or closes the drawer (narrow screens). */
  setOpen(open) {
    this.#ui.sidebarOpen = open;
    this.#root.classList.toggle("sidebar-open", open);
    this.#els["sidebar-toggle"].setAttribute("aria-expanded", String(open));
  }

  /**
   * In the drawer the rooms come first, the search after them; beside the conversation
   * the search stays on top. Moved in the page, so the tab order follows what is seen.
   */
  #placeSearch() {
    const { "search-form": form, "room-list-nav": nav } = this.#els;
    const drawer = DRAWER_MEDIA.matches;
    if ((nav.nextElementSibling === form) === drawer) return;
    const focused = form.contains(document.activeElement) ? document.activeElement : null;
    if (drawer) nav.after(form);
    else this.#els["room-filter"].parentElement.before(form);
    focused?.focus();
  }

  /** Esc: closes the drawer, focus back on its toggle; false when it was not open. */
  closeByKey() {
    if (!this.#ui.sidebarOpen) return false;
    this.setOpen(false);
    this.#els["sidebar-toggle"].focus();
    return true;
  }

  /** Hides the rooms whose name (or DM peer's username) does not hold the filter text. */
  #applyFilter() {
    const filter = this.#ui.filter;
    let shown = 0;
    const items = [...this.#els["room-list"].children];
    for (const li of items) {
      li.hidden = Boolean(filter) && !li.dataset.name.includes(filter);
      if (!li.hidden) shown += 1;
    }
    this.#els["rooms-unmatched"].hidden = items.length === 0 || shown > 0;
  }

  #setFilter(text) {
    this.#ui.filter = fold(text.trim());
    this.#applyFilter();
  }

  /** Alt+Up/Down: the room before or after the open one in the sidebar (Shift: unread only). */
  #stepRoom(step, unreadOnly) {
    const links = [...this.#els["room-list"].querySelectorAll("li:not([hidden]) > a[data-room]")];
    const current = links.findIndex((link) => link.getAttribute("aria-current") === "page");
    let index = current === -1 ? (step > 0 ? -1 : links.length) : current;
    for (index += step; index >= 0 && index < links.length; index += step) {
      if (!unreadOnly || links[index].classList.contains("room-unread")) break;
    }
    const link = links[index];
    if (!link) return false;
    this.setOpen(false);
    this.#on.openRoom(Number(link.dataset.room));
    return true;
  }

  #fillRoomItem(li, room, openId) {
    // The link element is kept across updates so keyboard focus stays on it.
    const link = li.firstElementChild ?? li.appendChild(el("a", "room-link"));
    li.dataset.name = fold(`${room.name} ${room.peer?.username ?? ""}`);
    link.href = `/rooms/${room.id}/`;
    link.dataset.room = room.id;
    link.classList.toggle("room-unread", room.unread > 0);
    if (room.id === openId) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    const icon =
      room.kind === "direct"
        ? avatar(room.name, room.peer?.id, "room-icon room-avatar", room.peer?.avatar)
        : el("span", "room-icon");
    if (room.kind === "public") icon.textContent = "#";
    if (room.kind === "private") icon.append(svgIcon(LOCK_PATH));
    icon.setAttribute("aria-hidden", "true");
    const face = el("span", "room-face");
    face.append(icon);
    link.replaceChildren(face, el("span", "room-name", room.name));
    if (room.kind === "direct") {
      link.append(hiddenText(t("(direct message)")));
      const peer = room.peer?.id;
      if (peer != null) face.append(presenceDot(peer, this.#presenceOf(peer)));
    }
    if (room.notify === "nothing") {
      const silent = el("span", "room-notify-off");
      silent.setAttribute("role", "img");
      silent.setAttribute("aria-label", t("No notifications"));
      silent.title = t("No notifications");
      silent.append(svgIcon(BELL_OFF_PATH));
      link.append(silent);
    }
    if (room.unread_mentions > 0) {
      const badge = el("span", "badge badge-mention", `@${room.unread_mentions}`);
      badge.setAttribute("aria-hidden", "true");
      link.append(badge, hiddenText(t("%s unread mentions", room.unread_mentions)));
    }
    if (room.unread > 0) {
      const badge = el("span", "badge", String(room.unread));
      badge.setAttribute("aria-hidden", "true");
      link.append(badge, hiddenText(t("%s unread", room.unread)));
    }
  }

  #bind() {
    const els = this.#els;
    this.#placeSearch();
    DRAWER_MEDIA.addEventListener("change", () => this.#placeSearch());
    els["room-list"].addEventListener("click", (event) => {
      const link = event.target.closest("a[data-room]");
      const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
      // Let the browser open new tabs and windows itself.
      if (!link || event.button !== 0 || modified) return;
      event.preventDefault();
      this.setOpen(false);
      this.#on.openRoom(Number(link.dataset.room));
    });
    els["sidebar-toggle"].addEventListener("click", () => this.setOpen(!this.#ui.sidebarOpen));
    // On narrow screens the open drawer dims the conversation; a tap there closes it.
    this.#root.addEventListener("click", (event) => {
      const inside = [els["chat-sidebar"], els["sidebar-toggle"]].some((node) =>
        node.contains(event.target),
      );
      if (this.#ui.sidebarOpen && !inside) this.setOpen(false);
    });
    document.addEventListener("keydown", (event) => {
      const arrow = event.key === "ArrowUp" || event.key === "ArrowDown";
      if (!arrow || !event.altKey || event.ctrlKey || event.metaKey) return;
      if (this.#stepRoom(event.key === "ArrowDown" ? 1 : -1, event.shiftKey)) {
        event.preventDefault();
      }
    });
    els["room-filter"].addEventListener("input", () => this.#setFilter(els["room-filter"].value));
    els["room-filter"].addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !els["room-filter"].value) return;
      event.preventDefault();
      event.stopPropagation();
      els["room-filter"].value = "";
      this.#setFilter("");
    });
  }
}
