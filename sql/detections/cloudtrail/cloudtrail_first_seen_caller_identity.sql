/*
id: cloudtrail_first_seen_caller_identity
title: First GetCallerIdentity by a principal in 14 days
description: >-
  A principal calls sts:GetCallerIdentity and has not called it at all in
  the 14 days before the run's window (first-seen rule against a lookback
  baseline). "Who am I" is the first thing an attacker runs with fresh or
  stolen keys (TruffleHog, Pacu, the AWS CLI); routine callers (SDK
  credential checks, CI jobs) call it every hour and so are in the
  baseline. Callers are compared by their principal: a role session by
  its role (session names often change per run), an IAM Identity Center
  (SSO) session by its person (everyone in a permission set shares its
  role), users and root by their ARN; actor is the calling session. The rule stays quiet until
  the account's baseline holds at least 6 hours of GetCallerIdentity calls
  before the event, so enabling it on a young lake does not page for every
  principal.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0007:T1087.004
  - TA0007:T1033
dedup:
  keys: [account_id, principal]
  period: 1d
lookback: 14d
runbook: |-
  1. Find the principal's other calls around the alert: SELECT event_time,
     eventsource, eventname, sourceipaddress, useragent, errorcode FROM
     cloudtrail WHERE account_id = '<account_id>' AND (useridentity.arn =
     '<principal>' OR useridentity.sessioncontext.sessionissuer.arn =
     '<principal>') AND dt BETWEEN '<day-1>' AND '<day>' ORDER BY event_time.
  2. Is the access key new (CreateAccessKey in the last days) or the user
     unused for a long time? Is the source_ip a hosting provider or an
     address never seen for this principal?
  3. Ask the principal's owner whether a new tool or pipeline started using
     these credentials.
  4. If not recognised: deactivate the access key (`aws iam
     update-access-key --status Inactive`) or revoke the role's sessions,
     then review what else the credentials did.
false_positives:
  - A new CI pipeline, developer laptop or tool that starts using existing
    credentials.
  - A principal that calls GetCallerIdentity less often than every 14
    days (rarely used break-glass users).
references:
  - https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
  - https://attack.mitre.org/techniques/T1087/004/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.on: c.account_id = s.account_id"
    reason: >-
      The principals compared (the session issuer's role ARN, an SSO
      session's assumed-role ARN, else the identity's ARN: user, root,
      federated user) embed their account ID, and
      CloudTrail logs a GetCallerIdentity call only in the calling principal's
      own account (it touches no other account's resource, so
      recipientAccountId is that account); equal principals therefore always
      come with equal account_id.
  - mutant: "drop seen.where: eventsource = 'sts.amazonaws.com'"
    reason: >-
      GetCallerIdentity is an AWS STS API action only (no other service has an
      operation of that name, checked against every botocore service model),
      and STS logs it with eventSource sts.amazonaws.com from global and
      regional endpoints alike, so eventname = 'GetCallerIdentity' already
      implies the source.
  - mutant: "drop calls.where: eventsource = 'sts.amazonaws.com'"
    reason: >-
      Same as for seen: GetCallerIdentity exists only in AWS STS and is always
      logged with eventSource sts.amazonaws.com, so eventname =
      'GetCallerIdentity' already implies the source.
*/
WITH seen AS (
    SELECT
        account_id,
        {{ principal() }} AS principal,
        min(event_time) AS first_call
    FROM cloudtrail
    WHERE
        {{ lookback() }}
        AND eventsource = 'sts.amazonaws.com'
        AND eventname = 'GetCallerIdentity'
    GROUP BY
        account_id,
        {{ principal() }}
),

history AS (
    SELECT
        account_id,
        min(first_call) AS since
    FROM seen
    GROUP BY account_id
),

calls AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress AS source_ip,
        eventname AS event_name,
        useridentity.type AS identity_type,
        useragent AS user_agent,
        awsregion AS aws_region,
        eventid AS event_id,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'sts.amazonaws.com'
        AND eventname = 'GetCallerIdentity'
        AND errorcode IS NULL
)

SELECT
    c.event_time,
    c.account_id,
    c.source_ip,
    c.event_name,
    c.identity_type,
    c.user_agent,
    c.aws_region,
    c.event_id,
    c.actor,
    c.principal
FROM calls AS c
INNER JOIN history AS h
    ON
        c.account_id = h.account_id
        AND h.since <= c.event_time - INTERVAL '6' HOUR
LEFT JOIN seen AS s
    ON
        c.account_id = s.account_id
        AND c.principal = s.principal
WHERE s.principal IS NULL
