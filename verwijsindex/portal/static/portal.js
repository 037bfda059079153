// Move the focus to a form's error summary, so a keyboard or screen-reader user hears it first.
"use strict";
(function () {
  var summary = document.getElementById("fouten");
  if (summary) { summary.focus(); }
})();
