// The demo store page's own script (a file, not inline: the page's CSP allows only 'self' scripts).
// "Ask Aisle about this" opens the widget with that product's details.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.ask");
  if (button && window.AisleWidget) {
    window.AisleWidget.ask("Tell me about the " + button.dataset.title,
                           "/product_details" + JSON.stringify({ sku: button.dataset.sku }));
  }
});
