// Switchyard console: the only script. Forms marked data-confirm ask before they submit.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute && form.getAttribute("data-confirm");
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
