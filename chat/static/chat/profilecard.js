// The profile card: a small dialog with a person's face, names, bio, local time, presence
// and a "Message" button. Any element carrying `data-person` (a username) opens it: the
// timeline's author names and faces, the members panel, search results. The name is a
// button (Enter opens); Escape, the close button or a click elsewhere closes the card and
// gives focus back to the name that opened it. Its data is GET /api/people/<username>.
import { fetchPerson } from "./api.js";
import { avatar, botBadge, button, el, fillPresence, hiddenText, svgIcon } from "./dom.js";
import { LOCALE, t } from "./i18n.js";

const GAP_PX = 6;
const CLOSE_PATH =
  "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z";

/** "14:05" in the IANA `zone` (null for a zone this browser does not know). */
export function localTime(zone, now = new Date()) {
  if (!zone) return null;
  try {
    const format = new Intl.DateTimeFormat(LOCALE, {
      timeZone: zone,
      hour: "numeric",
      minute: "2-digit",
    });
    return format.format(now);
  } catch {
    return null;
  }
}

/** A button that opens `user`'s card, showing `text` (their name), classed `className`. */
export function personButton(user, className, text = user.display_name) {
  if (!user.username) return el("span", className, text); // a deleted account has no card
  const node = button(`person-button ${className}`, text);
  node.dataset.person = user.username;
  node.setAttribute("aria-haspopup", "dialog");
  return node;
}

/** Makes `node` (a face) open `user`'s card on a click; the name beside it is the button. */
export function personFace(node, user) {
  if (user.username) node.dataset.person = user.username;
  return node;
}

export class ProfileCard {
  #node;
  #store;
  #on;
  // What the open card shows: {username, person, returnTo}, or null when closed. A
  // generation drops an answer that arrives after the card closed or moved on.
  #open = null;
  #generation = 0;
  #clock = 0;

  /**
   * `store` gives presence (`presenceOf(id)`, "presence" events); `on.message(username)`
   * opens a conversation in place (without it, the Message link navigates).
   */
  constructor({ store, on = {} }) {
    this.#store = store;
    this.#on = on;
    this.#node = el("div", "profile-card");
    this.#node.id = "profile-card";
    this.#node.setAttribute("role", "dialog");
    this.#node.tabIndex = -1;
    this.#node.hidden = true;
    document.body.append(this.#node);
    this.#bind();
  }

  get isOpen() {
    return this.#open !== null;
  }

  /** Opens the card from clicks on `[data-person]` anywhere under `root`. */
  attach(root) {
    root.addEventListener("click", (event) => {
      const target = event.target.closest("[data-person]");
      if (!target || !root.contains(target) || event.defaultPrevented) return;
      event.preventDefault();
      event.stopPropagation();
      this.toggle(target);
    });
  }

  /** Opens `anchor`'s person's card by it (or closes it, if it is the one open). */
  async toggle(anchor) {
    const username = anchor.dataset.person;
    const returnTo = focusTarget(anchor);
    if (this.#open?.username === username && this.#open.returnTo === returnTo) {
      this.close({ refocus: true });
      return;
    }
    this.close();
    const generation = ++this.#generation;
    this.#open = { username, person: null, returnTo };
    returnTo.setAttribute("aria-expanded", "true");
    this.#node.setAttribute("aria-busy", "true");
    // Named by the username until the card's heading is there to name it.
    this.#node.removeAttribute("aria-labelledby");
    this.#node.setAttribute("aria-label", `@${username}`);
    this.#node.replaceChildren(el("p", "profile-card-status", t("Loading…")));
    this.#node.hidden = false;
    this.#place(anchor);
    this.#node.focus();
    let person;
    try {
      person = await fetchPerson(username);
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#node.removeAttribute("aria-busy");
      const text = t("Could not load the profile: %s", error.detail);
      const problem = el("p", "profile-card-status", text);
      problem.setAttribute("role", "alert");
      this.#node.replaceChildren(this.#closeButton(), problem);
      return;
    }
    if (generation !== this.#generation) return;
    this.#open.person = person;
    this.#node.removeAttribute("aria-busy");
    this.#render(person);
    this.#node.removeAttribute("aria-label");
    this.#node.setAttribute("aria-labelledby", "profile-card-name");
    this.#place(anchor);
    this.#startClock(person.time_zone);
    (this.#node.querySelector(".profile-card-message") ?? this.#node).focus();
  }

  close({ refocus = false } = {}) {
    const open = this.#open;
    if (!open) return;
    this.#open = null;
    this.#generation += 1;
    clearInterval(this.#clock);
    this.#node.hidden = true;
    this.#node.replaceChildren();
    open.returnTo.setAttribute("aria-expanded", "false");
    if (refocus && open.returnTo.isConnected) open.returnTo.focus();
  }

  #render(person) {
    const { user } = person;
    const head = el("div", "profile-card-head");
    const names = el("div", "profile-card-names");
    const name = el("h2", "profile-card-name", user.display_name);
    name.id = "profile-card-name";
    names.append(name, el("span", "profile-card-username", `@${user.username}`));
    if (user.is_bot) names.append(botBadge(user));
    if (!person.me) {
      const presence = el("span", "profile-card-presence");
      const dot = el("span", "presence");
      dot.setAttribute("role", "img");
      dot.dataset.peer = user.id;
      presence.append(dot, el("span", "profile-card-presence-text"));
      names.append(presence);
    }
    const face = avatar(user.display_name, user.id, "avatar profile-card-avatar", user.avatar);
    head.append(face, names);
    const parts = [this.#closeButton(), head];
    if (person.bio) parts.push(el("p", "profile-card-bio", person.bio));
    if (localTime(person.time_zone)) {
      const time = el("p", "profile-card-time");
      time.title = person.time_zone;
      parts.push(time);
    }
    const actions = el("div", "profile-card-actions");
    if (person.me) {
      const edit = el("a", "button button-secondary button-small", t("Edit your profile"));
      edit.href = "/accounts/profile/";
      actions.append(edit);
    } else if (person.can_message) {
      const message = el("a", "button button-small profile-card-message", t("Message"));
      message.href = person.dm_url;
      message.append(hiddenText(` ${user.display_name}`));
      actions.append(message);
    } else if (!person.blocked) {
      const note = t("This person does not take your messages.");
      actions.append(el("p", "profile-card-note muted", note));
    }
    if (person.blocked) {
      actions.append(el("p", "profile-card-note muted", t("You block this person.")));
    }
    parts.push(actions);
    this.#node.replaceChildren(...parts);
    this.#fillPresence();
    this.#fillTime();
  }

  #closeButton() {
    const close = button("icon-button profile-card-close");
    close.append(svgIcon(CLOSE_PATH), hiddenText(t("Close")));
    close.title = t("Close");
    close.dataset.action = "close";
    return close;
  }

  #fillPresence() {
    const person = this.#open?.person;
    const dot = this.#node.querySelector(".profile-card-presence .presence");
    if (!person || !dot) return;
    const presence = this.#store.presenceOf(person.user.id);
    fillPresence(dot, presence);
    const text = this.#node.querySelector(".profile-card-presence-text");
    text.textContent = presence ? dot.getAttribute("aria-label") : "";
    text.parentElement.hidden = !presence;
    // The words say it; the dot beside them need not say it again.
    if (presence) dot.setAttribute("aria-hidden", "true");
  }

  #fillTime() {
    const person = this.#open?.person;
    const node = this.#node.querySelector(".profile-card-time");
    if (!person || !node) return;
    node.textContent = t("%s local time", localTime(person.time_zone));
  }

  /** The local time follows the clock while the card is open. */
  #startClock(zone) {
    clearInterval(this.#clock);
    if (zone) this.#clock = setInterval(() => this.#fillTime(), 15_000);
  }

  /** Fixed below the anchor when there is room, else above it; inside the window. */
  #place(anchor) {
    const box = anchor.getBoundingClientRect();
    const { offsetWidth: width, offsetHeight: height } = this.#node;
    const below = box.bottom + GAP_PX;
    const top = below + height <= innerHeight ? below : Math.max(box.top - height - GAP_PX, 0);
    const left = Math.min(Math.max(box.left, GAP_PX), innerWidth - width - GAP_PX);
    this.#node.style.top = `${Math.max(top, 0)}px`;
    this.#node.style.left = `${Math.max(left, 0)}px`;
  }

  #bind() {
    this.#node.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.close({ refocus: true });
    });
    this.#node.addEventListener("click", (event) => {
      if (event.target.closest("[data-action=close]")) {
        this.close({ refocus: true });
        return;
      }
      const message = event.target.closest(".profile-card-message");
      if (message && this.#on.message && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
        event.preventDefault();
        const { username } = this.#open;
        this.close();
        this.#on.message(username);
      }
    });
    // A click or focus elsewhere closes the card (a click on a name opens that one instead).
    document.addEventListener("pointerdown", (event) => {
      if (!this.#open || this.#node.contains(event.target)) return;
      if (event.target.closest("[data-person]")) return;
      this.close();
    });
    document.addEventListener("focusin", (event) => {
      if (!this.#open || this.#node.contains(event.target)) return;
      if (event.target === this.#open.returnTo) return;
      this.close();
    });
    this.#store.addEventListener("presence", (event) => {
      const user = event.detail?.user ?? null;
      if (user === null || user === this.#open?.person?.user.id) this.#fillPresence();
    });
  }
}

/** What gets focus back when the card closes: the anchor if it is a button, else the
 * person's name button beside it (a face is not a tab stop), else the anchor. */
function focusTarget(anchor) {
  if (anchor.matches("button")) return anchor;
  const username = anchor.dataset.person;
  const near = anchor.closest("li")?.querySelectorAll("button[data-person]") ?? [];
  return [...near].find((node) => node.dataset.person === username) ?? anchor;
}
