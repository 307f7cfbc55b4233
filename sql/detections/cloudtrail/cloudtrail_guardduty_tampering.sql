/*
id: cloudtrail_guardduty_tampering
title: GuardDuty findings suppressed or coverage reduced
description: >-
  GuardDuty keeps running but is made blind or quiet: a trusted IP list is
  created or updated (CreateIPSet, UpdateIPSet not deactivating it), so
  traffic from those addresses raises no findings; a findings filter with
  the ARCHIVE action is created or updated (CreateFilter, UpdateFilter), so
  matching findings are auto-archived and never reach responders; member
  accounts are removed from the administrator (DisassociateMembers,
  DeleteMembers, StopMonitoringMembers, or a member leaving with
  DisassociateFromAdministratorAccount / DisassociateFromMasterAccount); or
  protection plans are switched off on a detector (UpdateDetector or
  UpdateMemberDetectors with a feature status DISABLED or an s3Logs /
  Kubernetes auditLogs / EBS malware scan data source disabled). Turning the
  whole detector off is reported by cloudtrail_guardduty_disabled. Only
  successful calls are reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters for what changed: the IP list location (an S3
     object URL) for IPSet calls, the filter's findingCriteria for filters,
     the accountIds for member calls, the features for detector updates.
  2. Inspect the current state in the alert's aws_region: `aws guardduty
     list-ip-sets --detector-id <target>` and `aws guardduty get-ip-set
     --detector-id <target> --ip-set-id <id>` (download the list from its
     location and look for attacker or cloud-provider ranges); `aws
     guardduty list-filters --detector-id <target>` and `aws guardduty
     get-filter --detector-id <target> --filter-name <name>`; `aws guardduty
     list-members --detector-id <target>`; `aws guardduty get-detector
     --detector-id <target>` (Features).
  3. Look for findings the change hides: `aws guardduty list-findings
     --detector-id <target> --finding-criteria
     '{"Criterion":{"service.archived":{"Eq":["true"]}}}'` since event_time.
  4. Ask the actor's team for the change ticket; only the security
     administration role should change GuardDuty configuration.
  5. If unplanned: delete the IP set or filter (`aws guardduty
     delete-ip-set`, `aws guardduty delete-filter`), re-add members (`aws
     guardduty create-members` then `start-monitoring-members`), re-enable
     features (`aws guardduty update-detector --features ...`), unarchive
     the hidden findings, and contain the actor.
false_positives:
  - Security teams adding scanner or VPN ranges to a trusted IP list, or
    suppression filters for known-benign findings, under a change ticket.
  - Account offboarding or moving GuardDuty administration to another
    account (member disassociation).
  - Cost-driven disabling of a protection plan (for example S3 or EKS
    protection) that was approved.
references:
  - https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_upload-lists.html
  - https://docs.aws.amazon.com/guardduty/latest/ug/findings_suppression-rule.html
  - https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateFilter.html
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
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.detectorId') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'guardduty.amazonaws.com'
    AND errorcode IS NULL
    AND (
        eventname IN (
            'CreateIPSet',
            'DisassociateMembers',
            'DeleteMembers',
            'StopMonitoringMembers',
            'DisassociateFromAdministratorAccount',
            'DisassociateFromMasterAccount'
        )
        OR (
            eventname = 'UpdateIPSet'
            AND coalesce(
                lower(json_extract_scalar(requestparameters, '$.activate')), 'true'
            ) != 'false'
        )
        OR (
            eventname IN ('CreateFilter', 'UpdateFilter')
            AND lower(json_extract_scalar(requestparameters, '$.action')) = 'archive'
        )
        OR (
            eventname IN ('UpdateDetector', 'UpdateMemberDetectors')
            AND (
                regexp_like(lower(requestparameters), '"status"\s*:\s*"disabled"')
                OR regexp_like(
                    lower(requestparameters),
                    '"(s3logs|auditlogs)"\s*:\s*\{\s*"enable"\s*:\s*false'
                )
                OR regexp_like(lower(requestparameters), '"ebsvolumes"\s*:\s*false')
            )
        )
    )
