"""The outside world behind the use cases' ports: Omni, Slack's Web API, AWS (secrets, DynamoDB, SQS), post-backs."""
