// Every string the client shows, in one place, keyed by its English text (gettext style).
// Translations live in locale/<lang>/client.json (one line per string: "English": "translation"),
// which the server puts in the page as a json_script tag for the active language.
// `%s` placeholders are filled in order; a translation keeps the same number of them.
const STRINGS = {
  // Connection state.
  "Connecting…": "Connecting…",
  "Connected": "Connected",
  "Reconnecting in %s s…": "Reconnecting in %s s…",
  "Connection lost. Reconnecting…": "Connection lost. Reconnecting…",
  "Offline": "Offline",
  "Signed out": "Signed out",
  "You have been signed out.": "You have been signed out.",

  // Rooms.
  "Direct message": "Direct message",
  "(direct message)": "(direct message)",
  "Private room": "Private room",
  "Public room": "Public room",
  "%s unread": "%s unread",
  "You are no longer a member of this room.": "You are no longer a member of this room.",
  "Could not join the room: %s": "Could not join the room: %s",
  "Could not open the conversation: %s": "Could not open the conversation: %s",
  // Sidebar badge: the room has unread messages that @mention you.
  "%s unread mentions": "%s unread mentions",

  // The conversation.
  "Today": "Today",
  "Yesterday": "Yesterday",
  "Loading messages…": "Loading messages…",
  "Loading earlier messages…": "Loading earlier messages…",
  "This is the start of the conversation.": "This is the start of the conversation.",
  "No messages yet. Say hello!": "No messages yet. Say hello!",
  // A long message shows its start; these show or hide the rest.
  "Show more": "Show more",
  "Show less": "Show less",
  // Above the first message that arrived since the room was last read.
  "New messages": "New messages",
  "Jump to the first unread message (%s)": "Jump to the first unread message (%s)",
  "Could not load messages: %s": "Could not load messages: %s",
  // Read to screen readers for an incoming message: author, then body.
  "%s: %s": "%s: %s",

  // Sending.
  "Message %s": "Message %s",
  "Messages are limited to %s characters.": "Messages are limited to %s characters.",
  "Sending…": "Sending…",
  "Not sent: %s": "Not sent: %s",
  "Retry": "Retry",
  "Discard": "Discard",

  // Message text, tombstones and edits.
  "This message was deleted": "This message was deleted",
  "(edited)": "(edited)",
  "Edited %s": "Edited %s",

  // Message actions.
  "Message actions": "Message actions",
  "Add reaction": "Add reaction",
  "Pick a reaction": "Pick a reaction",
  "React with %s": "React with %s",
  "More emoji": "More emoji",
  "React with any emoji": "React with any emoji",
  // The message menu on phones and touch screens: its heading names the message's author.
  "Message from %s": "Message from %s",
  "Copy text": "Copy text",

  // The emoji picker (composer and reactions) and the composer's suggestions.
  "Insert emoji": "Insert emoji",
  "Search emoji": "Search emoji",
  "Skin tone": "Skin tone",
  "No skin tone": "No skin tone",
  "Light skin tone": "Light skin tone",
  "Medium-light skin tone": "Medium-light skin tone",
  "Medium skin tone": "Medium skin tone",
  "Medium-dark skin tone": "Medium-dark skin tone",
  "Dark skin tone": "Dark skin tone",
  "Loading emoji…": "Loading emoji…",
  "Could not load the emoji: %s": "Could not load the emoji: %s",
  "Search results": "Search results",
  "%s emoji found": "%s emoji found",
  "No emoji found.": "No emoji found.",
  "Recently used": "Recently used",
  "All emoji": "All emoji",
  "Suggestions": "Suggestions",

  // A reaction chip: the emoji, then how many reacted with it.
  "%s, reacted by %s": "%s, reacted by %s",
  "Reactions": "Reactions",
  "Reply": "Reply",
  "Edit": "Edit",
  "Delete": "Delete",
  "Delete this message? This cannot be undone.": "Delete this message? This cannot be undone.",

  // Pinned messages: a message's buttons and mark, the room header's list.
  "Pin": "Pin",
  "Unpin": "Unpin",
  // The pinned list's unpin button, named with the pinned message's first line.
  "Unpin: %s": "Unpin: %s",
  "Pinned": "Pinned",
  "Pinned (%s)": "Pinned (%s)",
  // Who pinned it, then when.
  "Pinned by %s, %s": "Pinned by %s, %s",
  "Could not pin or unpin the message: %s": "Could not pin or unpin the message: %s",
  // Threads: the line under a root ("3 replies · Last reply 10:05 · Bob"), the panel.
  "Reply in thread": "Reply in thread",
  "Replied in a thread": "Replied in a thread",
  "1 reply": "1 reply",
  "%s replies": "%s replies",
  "Last reply": "Last reply",
  "New replies": "New replies",
  "Loading the thread…": "Loading the thread…",
  "Could not load the thread: %s": "Could not load the thread: %s",
  "No replies yet.": "No replies yet.",
  "Also sent to the room": "Also sent to the room",
  // Beside the name of a webhook's bot: the name the program that posted gave itself.
  "via %s": "via %s",
  "In a thread": "In a thread",
  "Show this reply in its thread": "Show this reply in its thread",

  // Editing a message inline.
  "Edit message": "Edit message",
  "Enter to save, Esc to cancel": "Enter to save, Esc to cancel",
  "Save": "Save",
  "Cancel": "Cancel",
  "Could not edit the message: %s": "Could not edit the message: %s",
  "Could not delete the message: %s": "Could not delete the message: %s",
  "Could not react: %s": "Could not react: %s",
  "Not connected: try again once reconnected.": "Not connected: try again once reconnected.",

  // Replies.
  "Replying to %s:": "Replying to %s:",
  "Cancel reply": "Cancel reply",
  "In reply to": "In reply to",
  "deleted message": "deleted message",
  "Show the original message": "Show the original message",

  // Typing indicator.
  "%s is typing…": "%s is typing…",
  "%s and %s are typing…": "%s and %s are typing…",
  "Several people are typing…": "Several people are typing…",

  // Presence: the dot next to a direct message's peer.
  "Online": "Online",
  "Idle": "Idle",
  "Offline — last seen %s": "Offline — last seen %s",

  // A room's notification level: the header's menu, its button (%s: the level that
  // applies), the default's item (%s: what the default is in this room).
  "All messages": "All messages",
  "Mentions only": "Mentions only",
  "Nothing": "Nothing",
  "Default (%s)": "Default (%s)",
  "Notifications for this room: %s": "Notifications for this room: %s",
  // Sidebar icon on a room set to notify of nothing.
  "No notifications": "No notifications",
  "Could not change the room's notifications: %s": "Could not change the room's notifications: %s",
  // The notification settings page: desktop notifications in this browser.
  "Desktop notifications are on in this browser.": "Desktop notifications are on in this browser.",
  "Desktop notifications are off in this browser.": "Desktop notifications are off in this browser.",
  "This browser cannot show desktop notifications.": "This browser cannot show desktop notifications.",

  // Notifications: the title of one for a group room is author, then room.
  "%s in #%s": "%s in #%s",
  "Notifications are blocked for Parley in the browser's settings.":
    "Notifications are blocked for Parley in the browser's settings.",

  // Search.
  "Searching…": "Searching…",
  "Search failed: %s": "Search failed: %s",
  "No messages match “%s”.": "No messages match “%s”.",
  "1 result for “%s”": "1 result for “%s”",
  // How many results are shown, then the query.
  "%s results for “%s”": "%s results for “%s”",
  "Show this message in its room": "Show this message in its room",

  // Attachments: the composer's uploads and files in messages.
  "Attachments": "Attachments",
  "%s B": "%s B",
  "%s KB": "%s KB",
  "%s MB": "%s MB",
  "pasted image": "pasted image",
  "Files are limited to %s.": "Files are limited to %s.",
  "Uploading %s": "Uploading %s",
  "Not uploaded: %s": "Not uploaded: %s",
  "Remove %s": "Remove %s",
  "Wait until the files have uploaded.": "Wait until the files have uploaded.",

  // The members panel.
  "Members": "Members",
  // The panel's heading in a direct message.
  "People": "People",
  "Loading members…": "Loading members…",
  "1 member": "1 member",
  "%s members": "%s members",
  // The list is cut short in a very large room.
  "The first %s members": "The first %s members",
  "(you)": "(you)",
  "Owner": "Owner",
  // Beside the name of an account a program runs (a bot).
  "bot": "bot",
  "Admin": "Admin",
  "Member": "Member",
  "Role of %s": "Role of %s",
  "Remove %s from the room": "Remove %s from the room",
  "Remove %s from this room?": "Remove %s from this room?",
  "Leave %s?": "Leave %s?",
  "Could not load the members: %s": "Could not load the members: %s",
  "Could not save the room: %s": "Could not save the room: %s",
  // The username, then the server's reason.
  "Could not invite %s: %s": "Could not invite %s: %s",
  "Could not change the role: %s": "Could not change the role: %s",
  "Could not remove %s: %s": "Could not remove %s: %s",
  "Could not leave the room: %s": "Could not leave the room: %s",

  // The sidebar's New room form.
  "Give the room a name.": "Give the room a name.",
  "Could not create the room: %s": "Could not create the room: %s",

  // Invite links, in the members panel (owners and admins).
  "Loading invite links…": "Loading invite links…",
  "Could not load the invite links: %s": "Could not load the invite links: %s",
  "No active invite links.": "No active invite links.",
  "%s active invite links": "%s active invite links",
  "Expires %s": "Expires %s",
  "Never expires": "Never expires",
  "Used %s times": "Used %s times",
  "Used %s of %s times": "Used %s of %s times",
  // Who made the link, then when.
  "By %s, %s": "By %s, %s",
  "Revoke": "Revoke",
  "Revoke the link made %s": "Revoke the link made %s",
  "Revoke this invite link? Nobody can join with it afterwards.": "Revoke this invite link? Nobody can join with it afterwards.",
  "Could not create the link: %s": "Could not create the link: %s",
  "Could not revoke the link: %s": "Could not revoke the link: %s",
  "Copy": "Copy",
  "Copied": "Copied",
  "Press Ctrl+C to copy": "Press Ctrl+C to copy",

  // Webhooks, in the members panel (owners and admins); "Copy", "Revoke" and "By %s, %s" as above.
  "Loading webhooks…": "Loading webhooks…",
  "Could not load the webhooks: %s": "Could not load the webhooks: %s",
  "No webhooks.": "No webhooks.",
  "%s webhooks": "%s webhooks",
  "Revoke the webhook %s": "Revoke the webhook %s",
  "Revoke this webhook? Nothing can post through it afterwards.": "Revoke this webhook? Nothing can post through it afterwards.",
  "Could not create the webhook: %s": "Could not create the webhook: %s",
  "Could not revoke the webhook: %s": "Could not revoke the webhook: %s",

  // Blocking, in a direct message.
  "Block": "Block",
  "Unblock": "Unblock",
  "Block %s": "Block %s",
  "Unblock %s": "Unblock %s",
  "Could not block %s: %s": "Could not block %s: %s",
  "Could not unblock %s: %s": "Could not unblock %s: %s",
  // Above the composer: the other person, then the server's reason.
  "You cannot write to %s: %s": "You cannot write to %s: %s",
  "You block %s: they cannot write to you here.": "You block %s: they cannot write to you here.",

  // The HTTP API.
  "The server could not be reached.": "The server could not be reached.",
  "The server answered with an error (%s).": "The server answered with an error (%s).",

  // The profile card (profilecard.js): a person's face, names, bio, local time, presence.
  "Loading…": "Loading…",
  "Could not load the profile: %s": "Could not load the profile: %s",
  "Edit your profile": "Edit your profile",
  "Message": "Message",
  "This person does not take your messages.": "This person does not take your messages.",
  "You block this person.": "You block this person.",
  "Close": "Close",
  // Their time now where they live, e.g. "14:05 local time".
  "%s local time": "%s local time",
};

const catalogTag = document.getElementById("parley-i18n");
const TRANSLATED = catalogTag ? JSON.parse(catalogTag.textContent) : {};

/** The page's language, as the server chose it (profile setting, else Accept-Language). */
const PAGE_LANGUAGE = document.documentElement.lang || "en";

/** The locale for dates and numbers: the browser's own variant of the page's language
 * (en-GB, de-AT…) when it has one, else the page's language; times stay in the browser's zone. */
export const LOCALE =
  navigator.languages.find((tag) => tag.split("-")[0] === PAGE_LANGUAGE.split("-")[0]) ||
  PAGE_LANGUAGE;

/** The text for `message` with each `%s` replaced by the next argument. */
export function t(message, ...args) {
  let next = 0;
  const text = TRANSLATED[message] || STRINGS[message] || message;
  return text.replace(/%s/g, () => String(args[next++] ?? ""));
}
