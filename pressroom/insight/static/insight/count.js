// One page view for the site's own counts (docs/analytics.md): the page's path, the address it
// was reached from and its query (campaign tags), sent once to this site. No cookie, no storage.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var address = script.getAttribute("data-url") +
    "?p=" + encodeURIComponent(location.pathname) +
    "&r=" + encodeURIComponent(document.referrer.slice(0, 500)) +
    "&q=" + encodeURIComponent(location.search.slice(1, 500));
  if (navigator.sendBeacon && navigator.sendBeacon(address)) return;
  new Image().src = address;
})();
