"""The inference pipeline: request → variant → prompt → provider → response → record."""
