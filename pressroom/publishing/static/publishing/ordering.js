// Up and down buttons for admin rows kept in an order (menu items, home page stories): the
// byline picker's mechanism (bylines.js) applied to the rows of a change list or of an inline
// (a table row, or a stacked inline's block). Each row's "position" input
// becomes hidden and is renumbered 1, 2, 3… from the order of the rows; without this script the
// position is a number the editor types.
"use strict";
(function () {
  const POSITION = 'input[name$="-position"]';
  const ROW = "tr, .inline-related";

  function inUse(row) {
    // An extra, untouched form must stay untouched (or Django would validate it as a new row).
    const id = row.querySelector('input[type=hidden][name$="-id"]');
    if (id && id.value) return true;
    if (row.closest("#result_list")) return true;
    return Array.from(row.querySelectorAll("input[type=text], input[type=url], select")).some(
      function (field) { return field.value && !field.matches(POSITION); },
    );
  }

  function rowName(row, number) {
    const label = row.querySelector('input[name$="-label"]');
    if (label && label.value.trim()) return label.value.trim();
    const select = row.querySelector('select[name$="-topic"]');
    if (select && select.value) return select.options[select.selectedIndex].text;
    const link = row.querySelector("th a");
    if (link) return link.textContent.trim();
    const address = row.querySelector('input[name$="-url"]');
    if (address && address.value.trim()) return address.value.trim();
    return "row " + number;
  }

  function rows(body) {
    return Array.from(body.children).filter(function (row) {
      return row.matches(ROW) && row.querySelector(POSITION) && !row.classList.contains("empty-form");
    });
  }

  function renumber(body) {
    let next = 1;
    rows(body).forEach(function (row, index) {
      const position = row.querySelector(POSITION);
      if (inUse(row)) position.value = next++;
      const name = rowName(row, index + 1);
      row.querySelector("[data-action=up]").setAttribute("aria-label", "Move " + name + " up");
      row.querySelector("[data-action=down]").setAttribute("aria-label", "Move " + name + " down");
    });
  }

  function button(text, action) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "button ordering__" + action;
    element.dataset.action = action;
    element.textContent = text;
    return element;
  }

  function decorate(row) {
    const position = row.querySelector(POSITION);
    if (!position || row.classList.contains("empty-form") || position.dataset.ordered) return;
    position.dataset.ordered = "1";
    position.type = "hidden";
    position.after(button("↑", "up"), button("↓", "down"));
  }

  function setUp(body) {
    if (body.dataset.ordering) return;
    body.dataset.ordering = "1";
    rows(body).forEach(decorate);
    renumber(body);
    body.addEventListener("click", function (event) {
      const action = event.target.dataset && event.target.dataset.action;
      if (action !== "up" && action !== "down") return;
      const row = event.target.closest(ROW);
      const siblings = rows(body);
      const index = siblings.indexOf(row);
      if (action === "up" && index > 0) {
        body.insertBefore(row, siblings[index - 1]);
      } else if (action === "down" && index < siblings.length - 1) {
        body.insertBefore(siblings[index + 1], row);
      }
      renumber(body);
      event.target.focus();
    });
    body.addEventListener("change", function () { renumber(body); });
    const form = body.closest("form");
    if (form) form.addEventListener("submit", function () { renumber(body); });
  }

  function start() {
    document.querySelectorAll(POSITION).forEach(function (input) {
      const row = input.closest(ROW);
      if (row && row.parentElement) setUp(row.parentElement);
    });
  }

  // A row added with "Add another" (Django's inlines.js) gets its buttons too.
  document.addEventListener("formset:added", function (event) {
    const row = event.target.closest && event.target.closest(ROW);
    if (!row || !row.parentElement || !row.querySelector(POSITION)) return;
    const body = row.parentElement;
    decorate(row);
    setUp(body);
    renumber(body);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
