/*
id: cloudtrail_eventbridge_rule_disabled
title: EventBridge rule or CloudWatch alarm disabled or deleted
description: >-
  A successful EventBridge DisableRule or DeleteRule, or a CloudWatch
  DeleteAlarms or DisableAlarmActions. EventBridge rules and CloudWatch
  alarms carry much of an account's alerting and automated response
  (GuardDuty and Security Hub finding routing, CloudTrail change alarms,
  auto-remediation); disabling them silences monitoring before or during
  an attack. Changes made by AWS services for their own managed rules and
  alarms (invokedBy set, or a service-linked role such as Application Auto
  Scaling removing target-tracking alarms) are excluded.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Identify what was silenced (target; for DeleteAlarms the names are in
     request_parameters.alarmNames): `aws events describe-rule --name
     <target> --event-bus-name <bus>` or `aws cloudwatch describe-alarms
     --alarm-names <name>` (gone if deleted: check the IaC source).
  2. Ask the owner whether the change came from a deployment (CloudFormation
     or Terraform user_agent, a known pipeline role, a stack update).
  3. Look at what the actor did right after, since this often precedes
     other evasion or impact: SELECT event_time, eventsource, eventname
     FROM cloudtrail WHERE useridentity.arn = '<actor>' AND dt >= '<day>'
     ORDER BY event_time.
  4. If unauthorised: re-enable the rule (`aws events enable-rule --name
     <target>`) or redeploy the alarm from IaC, and contain the actor.
false_positives:
  - Infrastructure-as-code deployments replacing or removing rules and
    alarms.
  - Maintenance windows that disable alarm actions temporarily.
references:
  - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DisableRule.html
  - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DeleteRule.html
  - https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DeleteAlarms.html
  - https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DisableAlarmActions.html
  - https://attack.mitre.org/techniques/T1562/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: COALESCE(useridentity.type, '') <> 'AWSService'"
    reason: >-
      CloudTrail writes an AWSService identity as the service that acted,
      always with invokedBy (the service principal, 'AWS Internal' or the
      service's account) and no ARN; the next conjunct, invokedBy empty,
      therefore already drops every AWSService event, and no realistic record
      has type AWSService without invokedBy.
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
    coalesce(
        json_extract_scalar(requestparameters, '$.name'),
        json_extract_scalar(requestparameters, '$.alarmNames[0]')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND (
        (
            eventsource = 'events.amazonaws.com'
            AND eventname IN ('DisableRule', 'DeleteRule')
        )
        OR (
            eventsource = 'monitoring.amazonaws.com'
            AND eventname IN ('DeleteAlarms', 'DisableAlarmActions')
        )
    )
    AND errorcode IS NULL
    AND coalesce(useridentity.type, '') <> 'AWSService'
    AND coalesce(useridentity.invokedby, '') = ''
    AND NOT regexp_like(
        coalesce(useridentity.sessioncontext.sessionissuer.arn, ''),
        ':role/aws-service-role/'
    )
