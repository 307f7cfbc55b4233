/*
id: cloudtrail_access_denied_volume
title: Burst of access-denied calls across many APIs by one principal
description: >-
  One principal received at least 20 authorization failures (errorCode
  AccessDenied, AccessDeniedException, or any *UnauthorizedOperation such
  as Client.UnauthorizedOperation) spread over at least 10 different API
  actions within one run window: the signature of permission enumeration
  with stolen credentials (enumerate-iam, Pacu iam__bruteforce_permissions,
  manual "what can this key do" probing). A plain count per principal is
  not enough: inventory collectors, CSPM scanners, read-only users and
  automation routinely hit the same few denied APIs dozens of times a day,
  whereas enumeration is broad. This is an aggregate rule (one row per
  account and principal per run window, event_time = first denial), so a
  burst split across two run windows is counted separately in each.
  Assumed-role sessions are counted per session ARN. Calls by AWS service
  principals are ignored.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0007:T1580
  - TA0007:T1069.003
dedup:
  keys: [account_id, actor]
  period: 1d
threshold: 1
runbook: |-
  1. List the denied calls: SELECT event_time, eventsource, eventname,
     errorcode, sourceipaddress, useragent FROM cloudtrail WHERE
     useridentity.arn = '<actor>' AND errorcode IS NOT NULL AND dt =
     '<day>' ORDER BY event_time. Breadth across services (iam, s3, ec2,
     secretsmanager, lambda ...) from an unusual source_ip or user_agent
     means enumeration.
  2. Check the successful calls of the same principal in the same period:
     what could it do, and did it read secrets, create keys or assume
     roles?
  3. Ask the owner: a new deployment with missing permissions or a newly
     onboarded audit tool explains a one-off burst.
  4. If unexplained: deactivate the access key (`aws iam update-access-key
     --status Inactive ...`) or revoke the role sessions (deny on
     aws:TokenIssueTime), find where the credentials leaked, and open an
     incident.
false_positives:
  - Newly deployed automation or audit tools running with too narrow
    permissions across many services.
  - Read-only console users browsing many service consoles.
references:
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
  - https://attack.mitre.org/techniques/T1580/
  - https://attack.mitre.org/techniques/T1069/003/
owner: security-engineering
*/
SELECT
    account_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    min(event_time) AS event_time,
    max(event_time) AS last_event_time,
    min(sourceipaddress) AS source_ip,
    count(DISTINCT sourceipaddress) AS source_ip_count,
    min(eventname) AS event_name,
    count(*) AS denied_calls,
    count(DISTINCT eventname) AS denied_actions,
    count(DISTINCT eventsource) AS denied_services
FROM cloudtrail
WHERE
    {{ window() }}
    AND (
        errorcode IN ('AccessDenied', 'AccessDeniedException')
        OR errorcode LIKE '%UnauthorizedOperation'
    )
    AND coalesce(useridentity.type, '') <> 'AWSService'
GROUP BY
    account_id,
    coalesce(useridentity.arn, useridentity.principalid)
HAVING
    count(*) >= 20
    AND count(DISTINCT eventname) >= 10
