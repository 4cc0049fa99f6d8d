// Applies the saved theme before the first paint, so a dark-theme user never
// sees a white flash. A classic script on purpose: modules run after parsing.
(function () {
  try {
    var theme = localStorage.getItem('parley.theme');
    if (theme === 'light' || theme === 'dark') {
      document.documentElement.dataset.theme = theme;
    }
  } catch (e) { /* storage may be disabled; the system theme applies */ }
})();
