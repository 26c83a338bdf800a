"""Stand-ins for the services the relay calls: Omni, Slack's Web API, a capture server."""
