/*
id: cloudtrail_secrets_manager_burst
title: Burst of Secrets Manager secret reads by one principal
description: >-
  One principal read secret values from AWS Secrets Manager 20 or more times
  in an aligned 15-minute bucket (successful GetSecretValue and
  BatchGetSecretValue calls). Applications read a handful of secrets at
  start-up and cache them; a principal sweeping many secrets is typical of
  credential harvesting with stolen credentials. Calls made by AWS services
  on a principal's behalf (userIdentity.invokedBy set, e.g. ECS injecting
  task secrets) and failed calls are not counted (denied reads are the
  access-denied rule's job). A BatchGetSecretValue call counts once however
  many secrets it returns; the alert carries the call details so the
  secrets can be listed. Assumed-role sessions are counted per session.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1555.006
dedup:
  keys: [account_id, principal]
  period: 15m
threshold: 20
runbook: |-
  1. List what was read: SELECT event_time, eventname,
     json_extract_scalar(requestparameters, '$.secretId') AS secret,
     requestparameters, sourceipaddress, useragent FROM cloudtrail WHERE
     eventsource = 'secretsmanager.amazonaws.com' AND useridentity.arn =
     '<actor>' AND dt = '<day>' ORDER BY event_time. Many distinct secrets,
     an unusual source_ip or a CLI/SDK user agent on an application role
     are the warning signs.
  2. Compare with the principal's normal volume over the previous days
     (same query, wider dt range); a deployment or a cache-less
     application restart loop reads the same few secrets repeatedly.
  3. If unexplained: contain the principal (deactivate keys or revoke role
     sessions) and rotate every secret it read (`aws secretsmanager
     rotate-secret --secret-id <id>`), then hunt for use of those
     credentials (database logins, third-party APIs).
false_positives:
  - Applications without secret caching in a restart loop, or Lambda
    functions cold-starting at scale (same few secrets, a known role).
  - Secret inventory or rotation tooling run by the platform team.
references:
  - https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
  - https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html
  - https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-cloudtrail.html
  - https://attack.mitre.org/techniques/T1555/006/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'secretsmanager.amazonaws.com'"
    reason: >-
      GetSecretValue and BatchGetSecretValue are operations of Secrets Manager
      only per the AWS SDK service models (botocore 1.43), so the eventname
      list already implies eventsource secretsmanager.amazonaws.com.
  - mutant: "drop main.where: COALESCE(useridentity.type, '') <> 'AWSService'"
    reason: >-
      Implied by useridentity.invokedby IS NULL: CloudTrail writes an
      AWSService identity as type plus invokedBy (the calling service, 'AWS
      Internal' or the service's account id) and nothing else, so every
      AWSService record has invokedBy set and is already removed. The
      condition is kept as a guard should such a record ever lack invokedBy.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.secretId') AS secret_id
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'secretsmanager.amazonaws.com'
    AND eventname IN ('GetSecretValue', 'BatchGetSecretValue')
    AND errorcode IS NULL
    AND useridentity.invokedby IS NULL
    AND coalesce(useridentity.type, '') <> 'AWSService'
