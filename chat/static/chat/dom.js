// Small DOM helpers shared by the chat page's components and the home page.
// User text goes in only as text: `el` sets textContent, never HTML.
import { LOCALE, t } from "./i18n.js";

const TONES = 8;

const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: "numeric", minute: "2-digit" });
export const fullFormat = new Intl.DateTimeFormat(LOCALE, {
  dateStyle: "full",
  timeStyle: "short",
});
export const whenFormat = new Intl.DateTimeFormat(LOCALE, {
  dateStyle: "medium",
  timeStyle: "short",
});

/** The page's elements with these ids, by id. */
export function byId(ids) {
  return Object.fromEntries(ids.map((id) => [id, document.getElementById(id)]));
}

export function el(tag, className = "", text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The "bot" mark beside a bot's name (timeline, members, profile card), or null. */
export function botBadge(user) {
  return user.is_bot ? el("span", "tag tag-bot", t("bot")) : null;
}

export function hiddenText(text) {
  return el("span", "visually-hidden", text);
}

export function button(className, text) {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

function initial(name) {
  return ([...name.trim()][0] ?? "?").toUpperCase();
}

/** A stable colour class per user, so a face is recognisable down the page. */
function toneClass(userId) {
  return `tone-${Math.abs(userId ?? 0) % TONES}`;
}

/**
 * A person's face: the picture they uploaded (`url`, as the server gives it), or their
 * initial on their colour when they have none or it fails to load. Decorative: the name
 * is always beside it.
 */
export function avatar(name, userId, className, url = null) {
  const initialNode = el("span", `${className} ${toneClass(userId)}`, initial(name));
  initialNode.setAttribute("aria-hidden", "true");
  if (!url) return initialNode;
  const picture = el("img", `${className} avatar-picture`);
  picture.alt = "";
  picture.loading = "lazy";
  picture.addEventListener("error", () => picture.replaceWith(initialNode), { once: true });
  picture.src = url;
  return picture;
}

export function svgIcon(d) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

export function timeNode(date, className) {
  const node = el("time", className, timeFormat.format(date));
  node.dateTime = date.toISOString();
  node.title = fullFormat.format(date);
  return node;
}

/** What a presence dot says: "Online", "Idle", or "Offline — last seen <time>". */
export function presenceLabel(presence) {
  if (presence.status === "online") return t("Online");
  if (presence.status === "idle") return t("Idle");
  if (!presence.last_seen) return t("Offline");
  return t("Offline — last seen %s", whenFormat.format(new Date(presence.last_seen)));
}

/** Shows someone's status on a dot (role img, labelled), or hides it when unknown. */
export function fillPresence(node, presence) {
  node.hidden = !presence;
  if (!presence) {
    node.removeAttribute("aria-label");
    node.removeAttribute("title");
    delete node.dataset.status;
    return;
  }
  const label = presenceLabel(presence);
  node.dataset.status = presence.status;
  node.setAttribute("aria-label", label);
  node.title = label;
}

/** A user's presence dot in a list, showing `presence` (null: hidden). */
export function presenceDot(userId, presence) {
  const dot = el("span", "presence presence-room");
  dot.setAttribute("role", "img");
  dot.dataset.peer = userId;
  fillPresence(dot, presence);
  return dot;
}

/** Updates the presence dots under `parent` for one user (null: everyone's). */
export function refreshDots(parent, userId, lookup) {
  for (const dot of parent.querySelectorAll(".presence[data-peer]")) {
    const peer = Number(dot.dataset.peer);
    if (userId === null || peer === userId) fillPresence(dot, lookup(peer));
  }
}

/**
 * Reuses `parent`'s children by data-key, creates the missing ones, drops the rest,
 * and puts them in the order of `items`, so focus and scroll survive updates.
 */
export function reconcile(parent, items, create, update) {
  const existing = new Map([...parent.children].map((node) => [node.dataset.key, node]));
  let cursor = parent.firstElementChild;
  for (const item of items) {
    let node = existing.get(item.key);
    if (node) {
      existing.delete(item.key);
      update(node, item);
    } else {
      node = create(item);
      node.dataset.key = item.key;
    }
    if (node === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(node, cursor);
  }
  for (const node of existing.values()) node.remove();
}
