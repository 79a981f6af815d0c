// Lets a reader hide the campaign banner. The choice lives in this browser only (localStorage,
// keyed by the campaign's slug), so pages stay identical for everyone and cacheable, and a new
// campaign shows again. Loaded right after the banner so a hidden banner never flashes.
(function () {
  var banner = document.getElementById("campaign-banner");
  if (!banner) return;
  var key = "pressroom:campaign-dismissed:" + banner.getAttribute("data-campaign");
  var storage;
  try { storage = window.localStorage; storage.getItem(key); } catch (error) { storage = null; }
  if (storage && storage.getItem(key) === "1") { banner.hidden = true; return; }
  // Wide screens have room for the appeal's words: open them before the first paint. Phones
  // keep the compact bar (the words stay one tap away, in the <details>).
  var message = banner.querySelector(".campaign-message");
  if (message && window.matchMedia && window.matchMedia("(min-width: 48rem)").matches) {
    message.open = true;
  }
  var button = banner.querySelector(".campaign-dismiss");
  if (!button || !storage) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    storage.setItem(key, "1");
    banner.hidden = true;
    var main = document.getElementById("content");
    if (main) main.focus();
  });
})();
