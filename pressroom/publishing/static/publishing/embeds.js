// Click-to-load embeds: the page shows a placeholder (the provider's name and a link that works
// without JavaScript); only the reader's click creates the player's iframe, so no request
// reaches the provider before they ask. The markup comes from pressroom/publishing/embeds.py.
(function () {
  "use strict";
  function load(placeholder) {
    var data = placeholder.dataset;
    var frame = document.createElement("iframe");
    frame.src = data.embedSrc;
    frame.title = data.embedTitle || data.embedProvider;
    if (data.embedAllow) frame.allow = data.embedAllow;
    if (data.embedAllowfullscreen) frame.allowFullscreen = true;
    if (data.embedWidth) frame.width = data.embedWidth;
    if (data.embedHeight) {
      frame.height = data.embedHeight;
      frame.style.height = data.embedHeight + "px";  // over the stylesheet's height: auto
      frame.className = "embed-player embed-player--fixed";
    } else {
      frame.className = "embed-player";
    }
    placeholder.replaceChildren(frame);
    placeholder.classList.add("embed--loaded");
    frame.focus();
  }
  document.querySelectorAll(".embed[data-embed-src]").forEach(function (placeholder) {
    var button = placeholder.querySelector(".embed-load");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", function () { load(placeholder); });
  });
})();
