// Click an image in the media library's change form to set its focal point: the numeric
// fields (id_focal_x, id_focal_y) are filled in, and stay editable by hand.
(function () {
  "use strict";
  function setUp() {
    const picker = document.querySelector(".focal-point-picker");
    if (!picker) return;
    const image = picker.querySelector("img");
    const marker = picker.querySelector(".focal-point-marker");
    const fieldX = document.getElementById("id_focal_x");
    const fieldY = document.getElementById("id_focal_y");
    if (!fieldX || !fieldY) return;

    function place() {
      marker.style.left = `${parseFloat(fieldX.value || 0.5) * 100}%`;
      marker.style.top = `${parseFloat(fieldY.value || 0.5) * 100}%`;
    }
    image.addEventListener("click", (event) => {
      const box = image.getBoundingClientRect();
      const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
      fieldX.value = x.toFixed(3);
      fieldY.value = y.toFixed(3);
      place();
    });
    fieldX.addEventListener("input", place);
    fieldY.addEventListener("input", place);
    place();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
