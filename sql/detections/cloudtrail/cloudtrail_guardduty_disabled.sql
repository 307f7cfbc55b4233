/*
id: cloudtrail_guardduty_disabled
title: GuardDuty detector deleted or suspended
description: >-
  Amazon GuardDuty was switched off in a region: the detector was deleted
  (DeleteDetector) or suspended (UpdateDetector with enable = false). Both
  stop threat detection for the account and region, and deletion also
  discards existing findings; attackers do this to hide follow-on activity.
  Only successful calls are reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
dedup:
  keys: [account_id]
  period: 1h
threshold: 1
runbook: |-
  1. Check the detector in the alert's aws_region: `aws guardduty
     list-detectors --region <aws_region>` and `aws guardduty get-detector
     --detector-id <target> --region <aws_region>` (Status ENABLED or
     DISABLED; an empty list after DeleteDetector).
  2. Ask the actor's team for the change ticket; in an organization, only
     the GuardDuty delegated administrator should change member detectors.
  3. If unplanned: re-enable (`aws guardduty update-detector --detector-id
     <target> --enable` or `aws guardduty create-detector --enable`, then
     re-associate with the administrator account), and review the actor's
     other activity around event_time: SELECT event_time, eventsource,
     eventname, errorcode FROM cloudtrail WHERE useridentity.arn =
     '<actor>' AND dt BETWEEN '<day>' AND '<day+1>' ORDER BY event_time.
  4. Contain the actor and add an SCP denying guardduty:DeleteDetector,
     guardduty:UpdateDetector and guardduty:Disassociate* outside the
     security administration role.
false_positives:
  - Decommissioning an account or region, or moving GuardDuty
    administration to another account, under a change ticket.
references:
  - https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-suspend-disable.html
  - https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UpdateDetector.html
  - https://attack.mitre.org/techniques/T1562/001/
owner: security-engineering
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
    json_extract_scalar(requestparameters, '$.detectorId') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'guardduty.amazonaws.com'
    AND errorcode IS NULL
    AND (
        eventname = 'DeleteDetector'
        OR (
            eventname = 'UpdateDetector'
            AND lower(json_extract_scalar(requestparameters, '$.enable'))
            = 'false'
        )
    )
