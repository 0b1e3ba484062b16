// Switchyard console: the only script. Forms marked data-confirm, and buttons marked
// data-confirm-button, ask before they submit.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  const question =
    (button && button.getAttribute("data-confirm-button")) ||
    (form.getAttribute && form.getAttribute("data-confirm"));
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("click", (event) => {
  if (event.target.matches && event.target.matches("a[data-back]")) {
    event.preventDefault();
    history.back();
  }
});
