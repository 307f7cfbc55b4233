/*
id: cloudtrail_trail_stopped_or_changed
title: CloudTrail trail stopped, deleted or narrowed
description: >-
  A CloudTrail trail was stopped (StopLogging), deleted (DeleteTrail),
  reconfigured (UpdateTrail: bucket, regions, log file validation, KMS key)
  or had its event selectors narrowed (PutEventSelectors that turns off
  management events, keeps only ReadOnly or WriteOnly management events,
  excludes management event sources, or sets advanced selectors that no
  longer select the Management category). Turning off or narrowing the
  audit trail is a classic first step before acting unseen. Only successful
  calls are reported. Not recognised: advanced selectors that keep the
  Management category but filter it by readOnly or eventSource.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Check the trail's current state:
     `aws cloudtrail get-trail-status --name <target>` (IsLogging),
     `aws cloudtrail describe-trails --trail-name-list <target>` and
     `aws cloudtrail get-event-selectors --trail-name <target>`.
     request_parameters shows exactly what the caller changed.
  2. Ask the actor's team for the change ticket (infrastructure-as-code
     pipelines change trails through a known role and user_agent).
  3. If unplanned: restore logging (`aws cloudtrail start-logging --name
     <target>`, re-apply selectors or recreate the trail from code), then
     review the actor's other activity in the gap, from the organization
     trail or other regions' logs: SELECT event_time, eventname, errorcode
     FROM cloudtrail WHERE useridentity.arn = '<actor>'
     AND dt BETWEEN '<day>' AND '<day+1>' ORDER BY event_time.
  4. Contain the actor (disable keys or revoke role sessions) and protect
     trails with an SCP denying cloudtrail:StopLogging, DeleteTrail,
     UpdateTrail and PutEventSelectors outside the admin role.
false_positives:
  - Planned trail changes applied by infrastructure-as-code (Terraform,
    CloudFormation, Control Tower / Landing Zone pipelines).
  - Splitting data events into a dedicated trail whose advanced selectors
    deliberately select no management events.
  - Excluding the high-volume KMS or RDS Data API management event sources
    (excludeManagementEventSources) to save cost.
  - Benign UpdateTrail calls (for example enabling log file validation or
    SNS notifications) are reported too; the change is in
    request_parameters.
references:
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-turning-off-logging.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'cloudtrail.amazonaws.com'"
    reason: >-
      StopLogging, DeleteTrail, UpdateTrail and PutEventSelectors are
      operations of CloudTrail only per the AWS SDK service models (botocore
      1.43), so the eventname conditions already imply eventsource
      cloudtrail.amazonaws.com.
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
        json_extract_scalar(requestparameters, '$.trailName')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'cloudtrail.amazonaws.com'
    AND errorcode IS NULL
    AND (
        eventname IN ('StopLogging', 'DeleteTrail', 'UpdateTrail')
        OR (
            eventname = 'PutEventSelectors'
            AND (
                regexp_like(
                    requestparameters,
                    '"includeManagementEvents"\s*:\s*false'
                )
                OR regexp_like(
                    requestparameters,
                    '"readWriteType"\s*:\s*"(ReadOnly|WriteOnly)"'
                )
                OR regexp_like(
                    requestparameters,
                    '"excludeManagementEventSources"\s*:\s*\[\s*"'
                )
                OR (
                    regexp_like(
                        requestparameters,
                        '"advancedEventSelectors"\s*:\s*\[\s*\{'
                    )
                    AND NOT regexp_like(requestparameters, '"Management"')
                )
            )
        )
    )
