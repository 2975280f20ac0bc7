// The profile page's time zone field: offers the browser's own zone with one click.
// The label comes from the page (translated by the server), "%s" standing for the zone.
const input = document.getElementById("id_time_zone");
const hint = document.getElementById("time-zone-hint");
const use = document.getElementById("time-zone-use");
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

if (input && hint && use && zone && input.value.trim() !== zone) {
  use.textContent = use.dataset.label.replace("%s", zone);
  input.closest(".field")?.append(hint); // under the field it fills
  hint.hidden = false;
  use.addEventListener("click", () => {
    input.value = zone;
    hint.hidden = true;
    input.focus();
  });
}
