"""The infrastructure itself: template.yaml as SAM expands it (roles, routes, alarms, the deployment
preference), the local stack's reading of it, and the docs' tables checked against it. No sockets."""
