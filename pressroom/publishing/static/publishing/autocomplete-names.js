// Django's search-as-you-type selects (select2) show the chosen item or a placeholder in a span
// with role="textbox" but no name of its own, which screen readers announce as a nameless
// field (axe: aria-input-field-name). Each such span is named after its select's label (what
// it shows stays its value), as soon as select2 puts it in the page.
"use strict";
(function () {
  function name(span) {
    if (span.hasAttribute("aria-label")) return;
    // select2 names it "select2-<the select's id>-container".
    const select = document.getElementById(span.id.replace(/^select2-/, "").replace(/-container$/, ""));
    const label = select && select.labels && select.labels[0];
    span.setAttribute("aria-label", label ? label.textContent.trim().replace(/:$/, "") : "Search");
  }

  function nameAll() {
    document.querySelectorAll(".select2-selection__rendered[role=textbox]").forEach(name);
  }

  new MutationObserver(nameAll).observe(document.documentElement, { childList: true, subtree: true });
  nameAll();
})();
