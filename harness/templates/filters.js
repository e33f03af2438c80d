// Optional: the report reads the same without scripts. Filter buttons, and a link to a
// scenario opens it.
(function () {
  var bar = document.querySelector('.filters');
  if (bar) {
    bar.hidden = false;
    bar.addEventListener('click', function (e) {
      var b = e.target.closest('button');
      if (!b) return;
      bar.querySelectorAll('button').forEach(function (x) { x.setAttribute('aria-pressed', x === b); });
      document.body.classList.toggle('only-problems', b.dataset.filter === 'problems');
    });
  }
  function openTarget() {
    var t = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (t && t.tagName === 'DETAILS') t.open = true;
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
})();
