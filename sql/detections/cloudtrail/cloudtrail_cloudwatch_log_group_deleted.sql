/*
id: cloudtrail_cloudwatch_log_group_deleted
title: CloudWatch Logs log group or subscription filter deleted
description: >-
  A CloudWatch Logs log group was deleted (DeleteLogGroup: every stream and
  event in it is gone) or a subscription filter was removed
  (DeleteSubscriptionFilter: the group stops forwarding to Firehose,
  Kinesis, Lambda or a central logging account, which is how host and
  application logs reach this lake). Both destroy or divert evidence.
  DeleteLogStream is not reported (applications and log agents rotate
  streams routinely) nor are retention changes. Only successful calls are
  reported.
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
  1. Identify the log group (target) and, for DeleteSubscriptionFilter,
     the filter (filter_name). Check what is left: `aws logs
     describe-log-groups --log-group-name-prefix <target> --region
     <aws_region>` and `aws logs describe-subscription-filters
     --log-group-name <target>`.
  2. Ask the actor's team for the change ticket; groups of deleted Lambda
     functions or test stacks are removed by infrastructure-as-code roles
     with known user agents.
  3. If unexplained: recreate the group and filter (`aws logs
     create-log-group`, `aws logs put-subscription-filter`), find what
     the group held (host syslog, VPC flow logs, application logs) and
     review the affected hosts and the actor's other activity since
     event_time; contain the actor.
  4. Protect logging with an SCP denying logs:DeleteLogGroup and
     logs:DeleteSubscriptionFilter on central log groups outside the
     logging role.
false_positives:
  - Stack teardown by CloudFormation or Terraform (ephemeral Lambda and
    test log groups).
  - Re-deployments that replace a subscription filter (delete then put
    within seconds).
references:
  - https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DeleteLogGroup.html
  - https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DeleteSubscriptionFilter.html
  - https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/logging_cw_api_calls.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'logs.amazonaws.com'"
    reason: >-
      DeleteLogGroup and DeleteSubscriptionFilter are operations of
      CloudWatch Logs only: no other service model in botocore 1.43 has an
      operation of either name, so the eventname list already implies
      eventsource logs.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.logGroupName') AS target,
    json_extract_scalar(requestparameters, '$.filterName') AS filter_name
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'logs.amazonaws.com'
    AND eventname IN ('DeleteLogGroup', 'DeleteSubscriptionFilter')
    AND errorcode IS NULL
