/*
id: cloudtrail_ecs_task_definition_credential_access
title: ECS task definition that reads the task role's credentials endpoint
description: >-
  A RegisterTaskDefinition or RegisterDaemonTaskDefinition, denied and
  failed attempts included, whose
  request names the container credentials endpoint (169.254.170.2, or the
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI variables that point
  to it) or the EC2 instance metadata address 169.254.169.254 anywhere in
  its container definitions (command, entry point, environment). A task
  role's credentials are served to the task by that endpoint and read by
  the AWS SDK without the task's definition ever naming it; a definition
  that spells it out is a container built to fetch the credentials and send
  them elsewhere (a principal allowed iam:PassRole and ecs:RunTask then
  holds the role's rights). Ordinary task definitions, whose SDKs use the
  endpoint implicitly, are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1552.005
  - TA0004:T1098.003
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read family, task_role_arn, error_code and the actor; read the
     container definitions (container_definitions) for the command that
     names the endpoint and where it sends the response.
  2. Look for tasks started from it: SELECT event_time, eventname,
     requestparameters FROM cloudtrail WHERE eventname IN ('RunTask',
     'StartTask', 'CreateService', 'UpdateService') AND requestparameters
     LIKE '%<family>%' AND dt >= '<day>'.
  3. Look for the task role used from outside the cluster since
     event_time (cloudtrail_ec2_instance_credentials_off_instance covers
     instance roles; query the role's sessions by sourceipaddress).
  4. If unexplained: deregister the revision (`aws ecs
     deregister-task-definition`), stop its tasks, revoke the task role's
     sessions, contain the actor.
false_positives:
  - Debugging containers that print their own credentials endpoint
    response while troubleshooting a task role (should not reach
    production accounts).
references:
  - https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
  - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
  - https://attack.mitre.org/techniques/T1552/005/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ecs.amazonaws.com'"
    reason: >-
      RegisterTaskDefinition and RegisterDaemonTaskDefinition are
      operations of ECS only: no other service model in botocore 1.43 has
      an operation of either name, so the eventname list already implies
      eventsource ecs.amazonaws.com.
  - mutant: "drop main.where: eventname IN ('RegisterTaskDefinition', 'RegisterDaemonTaskDefinition')"
    reason: >-
      The rule reads requestParameters.containerDefinitions, and in
      botocore 1.43's ECS model only RegisterTaskDefinition and
      RegisterDaemonTaskDefinition take a containerDefinitions member
      (DescribeTaskDefinition returns it in its response, not its
      request), so no other ECS record can match the pattern.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.family') AS family,
    json_extract_scalar(requestparameters, '$.taskRoleArn') AS task_role_arn,
    json_format(json_extract(requestparameters, '$.containerDefinitions')) AS container_definitions
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ecs.amazonaws.com'
    AND eventname IN ('RegisterTaskDefinition', 'RegisterDaemonTaskDefinition')
    AND regexp_like(
        json_format(json_extract(requestparameters, '$.containerDefinitions')),
        '169\.254\.170\.2|169\.254\.169\.254|AWS_CONTAINER_CREDENTIALS_(RELATIVE|FULL)_URI'
    )
