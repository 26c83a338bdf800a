"""The local stack: template.yaml run on this machine, and its drivers (make demo, make job, parameters.toml).

cloud/: the emulated cloud that runs the template (API Gateway, Lambda, SQS, IAM, moto, sam build, sam local).
standins/: stand-ins for the services the relay calls (Omni, Slack's Web API, a capture server).
"""
