"""What people read: each outcome in plain words, and Slack's Block Kit messages."""
