"""The emulated cloud that runs template.yaml: API Gateway, Lambda, SQS, IAM, moto, sam build, sam local."""
