// Every page: a fault message (database busy, disk full; config.middleware.fault_page) is cleared once a later
// action of the user succeeds, so it never contradicts the "Settings saved" of a successful retry. Polling
// (GET) leaves it alone, so it is not gone before it was read.
document.addEventListener("htmx:afterRequest", (event) => {
  const verb = (event.detail.requestConfig && event.detail.requestConfig.verb) || "get";
  const fault = document.getElementById("page-fault");
  if (fault && event.detail.successful && verb !== "get") fault.replaceChildren();
});
