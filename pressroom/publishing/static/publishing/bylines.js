// The byline picker (pressroom/publishing/bylines.py): each chosen author is a list item with
// a hidden input; the order of the list is the order of the byline. Without this script the
// list is kept as it is and the select adds one author at the end.
"use strict";
(function () {
  function button(label, text, action) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "button byline-picker__" + action;
    element.dataset.action = action;
    element.setAttribute("aria-label", label);
    element.textContent = text;
    return element;
  }

  function decorate(item) {
    const name = item.querySelector(".byline-picker__name").textContent;
    item.append(
      button("Move " + name + " up", "↑", "up"),
      button("Move " + name + " down", "↓", "down"),
      button("Remove " + name, "Remove", "remove"),
    );
  }

  function setUp(picker) {
    const list = picker.querySelector(".byline-picker__chosen");
    const select = picker.querySelector("select");
    list.querySelectorAll("li").forEach(decorate);
    // The select only adds: it must not also submit its value.
    select.removeAttribute("name");
    select.addEventListener("change", function () {
      const pk = select.value;
      if (!pk) return;
      if (!list.querySelector('li[data-author="' + CSS.escape(pk) + '"]')) {
        const item = document.createElement("li");
        item.dataset.author = pk;
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = picker.dataset.name;
        input.value = pk;
        const name = document.createElement("span");
        name.className = "byline-picker__name";
        name.textContent = select.options[select.selectedIndex].text;
        item.append(input, name);
        decorate(item);
        list.append(item);
      }
      select.value = "";
    });
    list.addEventListener("click", function (event) {
      const action = event.target.dataset && event.target.dataset.action;
      if (!action) return;
      const item = event.target.closest("li");
      if (action === "up" && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
      } else if (action === "down" && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
      } else if (action === "remove") {
        item.remove();
        return;
      }
      event.target.focus();
    });
  }

  function start() {
    document.querySelectorAll("[data-byline-picker]").forEach(setUp);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
