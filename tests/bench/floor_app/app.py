"""The floor: a bare handler that returns a constant. What the runtime itself costs."""


def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}
