// Jobs dashboard. htmx does the work (hx-post, hx-confirm, polling); this only asks the confirmation of
// destructive buttons when htmx is not available and the forms post the classic way.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (window.htmx || !(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});
