// The emoji data behind the picker and `:shortcode:` completion: chat/static/chat/emoji.json
// (written by `manage.py build_emoji` from the same package the server checks reactions
// with), fetched once, on first use. Also the user's recent emoji and skin tone, kept in
// localStorage so every tab and room shares them.
import { LOCALE } from "./i18n.js";

const RECENT_KEY = "parley:emoji-recent";
const TONE_KEY = "parley:emoji-tone";
const RECENT_MAX = 24;
const GERMAN = LOCALE.split("-")[0] === "de";

let loading = null;

/**
 * Every emoji as {emoji, name (in the page's language), shortcode, keys (lower-case words
 * searched: English and German names, aliases), tones (five skin-tone forms, or [])}.
 */
export function loadEmoji() {
  if (!loading) {
    const config = JSON.parse(document.getElementById("parley-config").textContent);
    loading = fetch(config.emoji_url, { credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then((data) =>
        data.emoji.map(([emoji, english, german, aliases, tones]) => ({
          emoji,
          name: GERMAN ? german : english,
          shortcode: english.replaceAll(" ", "_"),
          keys: [english, german, ...aliases.map((alias) => alias.replaceAll("_", " "))],
          tones,
        })),
      )
      .catch((error) => {
        loading = null; // the next opening tries again
        throw error;
      });
  }
  return loading;
}

/** How well `entry` matches the lower-case `query`: 0 not at all, higher is better. */
function rank(entry, query) {
  let best = 0;
  for (const key of entry.keys) {
    if (key === query) return 4;
    if (key.startsWith(query)) best = Math.max(best, 3);
    else if (key.includes(` ${query}`)) best = Math.max(best, 2);
    else if (key.includes(query)) best = Math.max(best, 1);
  }
  return best;
}

/** The entries matching `query` (words of their names or aliases), best first. */
export function searchEmoji(entries, query, limit = Infinity) {
  const wanted = query.trim().toLowerCase().replaceAll("_", " ");
  if (!wanted) return entries.slice(0, limit);
  return entries
    .map((entry, index) => ({ entry, index, score: rank(entry, wanted) }))
    .filter((match) => match.score > 0)
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, limit)
    .map((match) => match.entry);
}

function stored(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

/** The emoji the user picked last, newest first. */
export function recentEmoji() {
  const recent = stored(RECENT_KEY, []);
  return Array.isArray(recent) ? recent.filter((item) => typeof item === "string") : [];
}

export function rememberEmoji(emoji) {
  const recent = [emoji, ...recentEmoji().filter((item) => item !== emoji)];
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent.slice(0, RECENT_MAX)));
}

/** The chosen skin tone: 0 none (the yellow default), 1 light … 5 dark. */
export function skinTone() {
  const tone = stored(TONE_KEY, 0);
  return Number.isInteger(tone) && tone >= 0 && tone <= 5 ? tone : 0;
}

export function setSkinTone(tone) {
  localStorage.setItem(TONE_KEY, JSON.stringify(tone));
}

/** The entry's emoji in skin tone `tone`, when it comes in skin tones. */
export function withTone(entry, tone) {
  return (tone && entry.tones[tone - 1]) || entry.emoji;
}
