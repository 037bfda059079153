// The 11-test (elfproef) of a BSN, as a hint while typing; the server checks again.
// No BSN leaves this page except in the form's POST body.
"use strict";
(function () {
  var input = document.getElementById("bsn");
  var note = document.getElementById("bsn-check");
  if (!input || !note) { return; }
  function valid(digits) {
    if (!/^[0-9]{9}$/.test(digits) || digits === "000000000") { return false; }
    var total = 0;
    for (var i = 0; i < 8; i++) { total += Number(digits[i]) * (9 - i); }
    total -= Number(digits[8]);
    return total % 11 === 0;
  }
  function check() {
    var digits = input.value.replace(/[\s.]/g, "");
    var bad = digits.length === 9 && !valid(digits);
    note.hidden = !bad;
    note.textContent = bad ? note.getAttribute("data-message") : "";
    if (bad) { input.setAttribute("aria-invalid", "true"); } else if (!input.hasAttribute("data-server-error")) { input.removeAttribute("aria-invalid"); }
  }
  if (input.getAttribute("aria-invalid") === "true") { input.setAttribute("data-server-error", ""); }
  input.addEventListener("input", check);
  input.addEventListener("blur", check);
})();
