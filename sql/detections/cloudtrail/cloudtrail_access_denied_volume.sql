/*
id: cloudtrail_access_denied_volume
title: Burst of access-denied calls across many APIs by one principal
description: >-
  One principal received at least 20 authorization failures (errorCode
  AccessDenied, AccessDeniedException, or any *UnauthorizedOperation such
  as Client.UnauthorizedOperation) spread over at least 10 different API
  actions within 60 minutes: the signature of permission enumeration
  with stolen credentials (enumerate-iam, Pacu iam__bruteforce_permissions,
  manual "what can this key do" probing). A plain count per principal is
  not enough: inventory collectors, CSPM scanners, read-only users and
  automation routinely hit the same few denied APIs dozens of times a day,
  whereas enumeration is broad. The 60 minutes are a sliding period, not
  the run window: every denial is counted with the principal's denials of
  the hour up to it (each run reads the two hours before its window for
  that), and a burst is reported once, at the denial that brings it to the
  limit (event_time) when none of the principal's denials was at the limit
  in the hour before. So a burst straddling two run windows is one hit, in
  the run that holds that denial, and enumeration going on for hours is
  still one hit. Denials are counted per principal (the source's
  principal column): a role's sessions together, so a tool that opens a
  session per process is one principal; an SSO session by its person; users
  and root by their ARN. actor is the session of the denial that reported
  the burst. Calls by AWS service principals are ignored.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0007:T1580
  - TA0007:T1069.003
dedup:
  keys: [account_id, principal]
  period: 1d
threshold: 1
runbook: |-
  1. List the denied calls: SELECT event_time, eventsource, eventname,
     errorcode, sourceipaddress, useragent, useridentity.arn FROM
     cloudtrail WHERE (useridentity.arn = '<principal>' OR
     useridentity.sessioncontext.sessionissuer.arn = '<principal>') AND
     errorcode IS NOT NULL AND dt = '<day>' ORDER BY event_time. Breadth across services (iam, s3, ec2,
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
equivalent_mutants:
  - mutant: "before widen: 2h -> 4h"
    reason: >-
      A denial of the window is compared with the principal's denials at the
      limit of the hour before it, each counted over its own hour: two hours
      before the window start is the earliest denial either can involve, so
      reading further back changes no hit.
*/
WITH denials AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        sourceipaddress,
        eventsource,
        eventname,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal
    FROM cloudtrail
    WHERE
        {{ window(before='2h') }}
        AND (
            errorcode IN ('AccessDenied', 'AccessDeniedException')
            OR errorcode LIKE '%UnauthorizedOperation'
        )
        AND coalesce(useridentity.type, '') <> 'AWSService'
),

-- Each denial with the principal's denials of the hour up to it (same second included).
last_hour AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        actor,
        principal,
        sourceipaddress,
        eventname,
        eventid,
        min(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS first_event_time,
        count(*) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS denied_calls,
        approx_distinct(eventname) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS denied_actions,
        approx_distinct(eventsource) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS denied_services,
        approx_distinct(sourceipaddress) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS source_ip_count
    FROM denials
),

-- The denials at the limit.
over_limit AS (
    SELECT *
    FROM last_hour
    WHERE
        denied_calls >= 20
        AND denied_actions >= 10
),

-- A burst is reported by its first denial at the limit: the one with no other denial of the principal at
-- the limit in the hour before. So it is one hit whichever runs it spans, and the run holding that denial
-- owns it.
bursts AS (
    SELECT
        *,
        lag(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time, eventid
        ) AS previous_over_limit
    FROM over_limit
)

SELECT
    event_time,
    account_id,
    actor,
    principal,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    eventid AS event_id,
    first_event_time,
    denied_calls,
    denied_actions,
    denied_services,
    source_ip_count
FROM bursts
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
