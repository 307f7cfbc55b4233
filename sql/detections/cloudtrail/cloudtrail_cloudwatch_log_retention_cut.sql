/*
id: cloudtrail_cloudwatch_log_retention_cut
title: CloudWatch Logs retention cut to three days or less
description: >-
  A principal set a CloudWatch Logs log group's retention to three days or
  less (PutRetentionPolicy with retentionInDays 1 or 3): CloudWatch then
  expires the group's events within days, so host and application logs an
  investigation would need disappear without a DeleteLogGroup (which
  cloudtrail_cloudwatch_log_group_deleted reports). Denied attempts count
  too: trying to shorten retention is the signal. Changes made by an AWS
  service on the caller's behalf (invokedBy) and by the reviewed
  infrastructure-as-code pipelines (lookup iac_principals) are not
  reported; short retention on scratch groups belongs in code.
  DeleteLogStream is deliberately not reported (sql/coverage.yaml: log
  agents and applications rotate streams routinely).
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
  - TA0005:T1070
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Check the group (target) and its retention now: `aws logs
     describe-log-groups --log-group-name-prefix <target> --region
     <aws_region>`. Events older than the new retention are being deleted.
  2. Ask the actor's team for the change; scratch and test groups are set
     by infrastructure-as-code, not by hand.
  3. If unexplained: restore the retention (`aws logs put-retention-policy
     --log-group-name <target> --retention-in-days 365`), export what is
     left (`aws logs create-export-task`), and review the actor's other
     activity since event_time: log tampering usually follows access.
  4. Deny logs:PutRetentionPolicy on central log groups outside the
     logging role with an SCP.
false_positives:
  - An engineer shortening retention on a noisy debug log group to cut
    cost.
references:
  - https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'logs.amazonaws.com'"
    reason: >-
      Per botocore 1.43's service models PutRetentionPolicy is an operation
      of CloudWatch Logs and WorkMail only, and WorkMail's takes folder
      configurations, not retentionInDays, so the retention condition
      already excludes every event of another service.
  - mutant: "drop main.where: eventname = 'PutRetentionPolicy'"
    reason: >-
      Per botocore 1.43's CloudWatch Logs model, PutRetentionPolicy is the
      only Logs operation with a retentionInDays parameter, so with
      eventsource logs.amazonaws.com the retention condition already implies
      it.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.logGroupName') AS target,
    json_extract_scalar(requestparameters, '$.retentionInDays') AS retention_days
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'logs.amazonaws.com'
    AND eventname = 'PutRetentionPolicy'
    AND try_cast(json_extract_scalar(requestparameters, '$.retentionInDays') AS integer) <= 3
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, '')
    )
