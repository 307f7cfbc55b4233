/*
id: cloudtrail_lambda_backdoor
title: Lambda function code, layers or access changed in a backdoor pattern
description: >-
  Successful Lambda changes commonly used to backdoor a function: new code
  (UpdateFunctionCode*), layers added through UpdateFunctionConfiguration*
  (a non-empty layers list; a layer can wrap the runtime and run code on
  every invocation), a resource policy opening the function to everyone
  (AddPermission* with principal "*"), or a function URL without
  authentication (CreateFunctionUrlConfig* / UpdateFunctionUrlConfig* with
  authType NONE). Lambda event names carry API version suffixes
  (UpdateFunctionCode20150331v2, AddPermission20150331v2, ...), so names are
  matched by prefix. Deployments performed by CloudFormation on the
  caller's behalf (invokedBy cloudformation.amazonaws.com) are excluded;
  direct code updates from CI pipelines are reported and are the main
  source of noise (tune by allowlisting the pipeline role).
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1546
  - TA0002:T1648
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Inspect the function (target): `aws lambda get-function
     --function-name <target>` (code location, CodeSha256, layers, role),
     `aws lambda get-policy --function-name <target>` and `aws lambda
     get-function-url-config --function-name <target>`.
  2. Compare with the last known deployment: ask the owning team whether a
     release ran at event_time (pipeline role, user_agent, CodeSha256 of
     the build). Layers from another account (ARN account id) are a red
     flag.
  3. Check the function's role permissions and invocations since
     event_time (CloudWatch Logs of the function, Invoke data events).
  4. If malicious: roll back to a known version or alias (`aws lambda
     update-alias` / redeploy), remove the layer, the public permission
     (`aws lambda remove-permission --function-name <target>
     --statement-id <sid>`) or the URL (`aws lambda
     delete-function-url-config`), rotate secrets in the environment, and
     contain the actor.
false_positives:
  - CI/CD pipelines deploying function code directly (SAM, Serverless
    Framework, Terraform).
  - Public webhooks intentionally served by a function URL without IAM
    auth (the function then authenticates requests itself).
references:
  - https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html
  - https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html
  - https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunctionUrlConfig.html
  - https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1648/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'lambda.amazonaws.com'"
    reason: >-
      Of the matched event names only AddPermission exists outside Lambda (SNS
      and SQS, checked against every botocore service model), and their
      requests carry TopicArn/QueueUrl, Label, AWSAccountId(s) and
      ActionName/Actions, never principal, so the AddPermission branch's
      principal = '*' cannot hold for them; UpdateFunctionCode*,
      UpdateFunctionConfiguration*, CreateFunctionUrlConfig* and
      UpdateFunctionUrlConfig* are Lambda-only names.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.functionName') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'lambda.amazonaws.com'
    AND errorcode IS NULL
    AND coalesce(useridentity.invokedby, '') <> 'cloudformation.amazonaws.com'
    AND (
        eventname LIKE 'UpdateFunctionCode%'
        OR (
            eventname LIKE 'UpdateFunctionConfiguration%'
            AND regexp_like(requestparameters, '"layers"\s*:\s*\[\s*"')
        )
        OR (
            eventname LIKE 'AddPermission%'
            AND json_extract_scalar(requestparameters, '$.principal') = '*'
        )
        OR (
            (
                eventname LIKE 'CreateFunctionUrlConfig%'
                OR eventname LIKE 'UpdateFunctionUrlConfig%'
            )
            AND lower(
                json_extract_scalar(requestparameters, '$.authType')
            ) = 'none'
        )
    )
