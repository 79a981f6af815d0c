// The donate form without a round trip: choosing a frequency swaps in its suggested amounts
// (the page without this script has a "Show amounts" button that asks the server instead), and
// the "cover the fees" line shows what the chosen amount would add.
(function () {
  "use strict";
  var form = document.querySelector(".donate-form");
  var data = document.getElementById("donate-presets");
  if (!form || !data) return;
  var presets = JSON.parse(data.textContent);
  var amounts = document.getElementById("id_amount");
  var feeText = document.getElementById("fee-amount");
  var showButton = form.querySelector(".show-amounts");
  if (showButton) showButton.hidden = true;

  function checkedValue(name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }

  function updateFee() {
    if (!feeText) return;
    var frequency = checkedValue("frequency") || "once";
    var amount = checkedValue("amount");
    var match = (presets[frequency] || []).filter(function (p) { return p.value === amount; })[0];
    if (match) feeText.textContent = match.fee;
  }

  function swapAmounts() {
    var frequency = checkedValue("frequency") || "once";
    var list = presets[frequency] || [];
    var other = amounts.querySelector("input[value=other]");
    var otherLabel = other ? other.closest("label") : null;
    Array.prototype.slice.call(amounts.querySelectorAll("label")).forEach(function (label) {
      if (label !== otherLabel) label.remove();
    });
    list.forEach(function (preset, index) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "amount";
      input.value = preset.value;
      // The suggested amount: the middle one, as the server chooses it.
      if (!(other && other.checked) && index === Math.floor((list.length - 1) / 2)) input.checked = true;
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + preset.label));
      amounts.insertBefore(label, otherLabel);
    });
    updateFee();
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "frequency") swapAmounts();
    else if (event.target.name === "amount") updateFee();
  });
})();
