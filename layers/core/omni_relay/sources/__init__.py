"""One module per request source: verify -> parse -> render."""
