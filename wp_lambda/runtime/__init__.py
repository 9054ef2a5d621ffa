"""The code that runs inside the Lambda function: standard library only (it ships in the layer).

Entry point: :func:`wp_lambda.runtime.handler.handler`.
"""
