// Message text as DOM nodes, from the server's rendered `html`.
//
// Why not innerHTML: the server already sanitises `html`, but a message is user-written
// text, and one slip on either side (a sanitiser bug, a proxy, a future field) would run
// script in everybody's tab. So the client trusts nothing it did not build itself: the
// HTML is parsed by DOMParser into an inert document (no script runs, nothing loads),
// then copied node by node with createElement/createTextNode, keeping only the tags and
// attributes on the allow-list below. Anything else is reduced to its text content.

const ALLOWED_TAGS = new Set([
  "a", "blockquote", "br", "code", "em", "li", "ol", "p", "pre", "s", "span", "strong", "ul",
]);
const SAFE_HREF = /^(?:https?:|mailto:)/i;
const LINK_REL = "noopener noreferrer nofollow";
const MAX_DEPTH = 32;

/**
 * The nodes for a message's text. `html` is the server's rendering; when it is empty
 * (an older message, a fallback) the plain `body` is shown as text. `me` is the current
 * user's username: a mention of it gets the extra class `mention-me`.
 */
export function renderMessageText(html, body, { me = "" } = {}) {
  const fragment = document.createDocumentFragment();
  if (!html) {
    if (body) fragment.append(document.createTextNode(body));
    return fragment;
  }
  const inert = new DOMParser().parseFromString(html, "text/html");
  for (const node of inert.body.childNodes) copyNode(node, fragment, me, 0);
  return fragment;
}

function copyNode(node, parent, me, depth) {
  if (node.nodeType === Node.TEXT_NODE) {
    parent.append(document.createTextNode(node.data));
    return;
  }
  if (node.nodeType !== Node.ELEMENT_NODE) return; // comments, processing instructions
  const tag = node.localName;
  const copy = depth < MAX_DEPTH && ALLOWED_TAGS.has(tag) ? safeElement(node, tag, me) : null;
  if (!copy) {
    // Not allowed (or a link or span that fails its rules): only its text survives.
    const text = node.textContent;
    if (text) parent.append(document.createTextNode(text));
    return;
  }
  for (const child of node.childNodes) copyNode(child, copy, me, depth + 1);
  parent.append(copy);
}

/** A fresh element for an allowed tag with only its allowed attributes, or null. */
function safeElement(source, tag, me) {
  if (tag === "a") {
    const href = source.getAttribute("href") ?? "";
    if (!SAFE_HREF.test(href)) return null;
    const link = document.createElement("a");
    link.setAttribute("href", href);
    link.setAttribute("target", "_blank");
    link.setAttribute("rel", LINK_REL);
    return link;
  }
  if (tag === "span") {
    const username = source.getAttribute("data-username");
    if (!source.classList.contains("mention") || !username) return null;
    const mention = document.createElement("span");
    mention.className = username === me ? "mention mention-me" : "mention";
    mention.setAttribute("data-username", username);
    return mention;
  }
  const element = document.createElement(tag);
  if (tag === "ol") {
    const start = source.getAttribute("start");
    if (start !== null && /^\d{1,9}$/.test(start)) element.setAttribute("start", start);
  }
  return element;
}

// The tags after which rendered text goes on on a new line.
const LINE_ENDS = new Set(["blockquote", "br", "li", "ol", "p", "pre", "ul"]);

/**
 * The first line of text a message shows: its `html` read as plain text (not the
 * Markdown of its `body`), or the body when it has no html. What a reply quotes of it,
 * as the server's quote has it. The html is parsed into an inert document, never shown.
 */
export function firstLineOf(html, body) {
  if (!html) return body.split("\n", 1)[0];
  const parts = [];
  const read = (node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) parts.push(child.data);
      if (child.nodeType !== Node.ELEMENT_NODE) continue;
      read(child);
      if (LINE_ENDS.has(child.localName)) parts.push("\n");
    }
  };
  read(new DOMParser().parseFromString(html, "text/html").body);
  return parts.join("").split("\n").map((line) => line.trim()).find(Boolean) ?? "";
}
