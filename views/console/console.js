// The console works without this script; with it, forms that cannot be undone ask first.
document.addEventListener('submit', function (event) {
  const form = event.target
  const question = form.getAttribute('data-confirm')
  if (question && !window.confirm(question)) event.preventDefault()
})
