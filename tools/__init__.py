"""Tools that act on a deployed relay: deploy, configure, slack-app, manifest, smoke, redrive, send."""
