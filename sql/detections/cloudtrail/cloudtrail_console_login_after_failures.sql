/*
id: cloudtrail_console_login_after_failures
title: Console sign-in succeeds after repeated failures
description: >-
  A successful AWS Management Console sign-in for a user preceded by five
  or more failed sign-ins for the same user name in the same account within
  the previous 30 minutes (sequence rule). Guessing that ended in a
  working password is worse than guessing alone: the failures may sit in
  the previous run's window, so the failures are read from 30 minutes
  before the window and the success from the window itself, and each
  sequence is reported by the run that sees its success.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1110.001
  - TA0001:T1078.004
dedup:
  keys: [account_id, actor]
  period: 1h
runbook: |-
  1. List the sign-ins: SELECT event_time, sourceipaddress, useragent,
     json_extract_scalar(responseelements, '$.ConsoleLogin') AS result,
     json_extract_scalar(additionaleventdata, '$.MFAUsed') AS mfa FROM
     cloudtrail WHERE eventname = 'ConsoleLogin' AND account_id =
     '<account_id>' AND useridentity.username = '<actor>' AND dt BETWEEN
     '<day-1>' AND '<day>' ORDER BY event_time.
  2. Did the success come from the same source_ip as the failures, and
     without MFA? That is a likely account takeover.
  3. Call the user: did they fight their password manager just now?
  4. If not: reset the password with --password-reset-required, revoke
     the console session (deny-all on aws:TokenIssueTime), enforce MFA and
     review what the session did after the sign-in.
false_positives:
  - A user who forgot their password, retried and got it right (same
    office IP, usual browser, MFA used).
references:
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
  - https://attack.mitre.org/techniques/T1110/001/
owner: security-engineering
*/
WITH failures AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        coalesce(useridentity.username, useridentity.arn) AS actor
    FROM cloudtrail
    WHERE
        {{ window(before='30m') }}
        AND eventsource = 'signin.amazonaws.com'
        AND eventname = 'ConsoleLogin'
        AND (
            errormessage = 'Failed authentication'
            OR json_extract_scalar(responseelements, '$.ConsoleLogin')
            = 'Failure'
        )
),

successes AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        useragent,
        eventid,
        useridentity.type AS identity_type,
        json_extract_scalar(additionaleventdata, '$.MFAUsed') AS mfa_used,
        coalesce(useridentity.username, useridentity.arn) AS actor
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'signin.amazonaws.com'
        AND eventname = 'ConsoleLogin'
        AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
        AND errormessage IS NULL
)

SELECT
    s.event_time,
    s.account_id,
    s.sourceipaddress AS source_ip,
    'ConsoleLogin' AS event_name,
    s.actor,
    s.identity_type,
    s.mfa_used,
    s.useragent AS user_agent,
    s.eventid AS event_id,
    count(*) AS failures_before,
    count(DISTINCT f.sourceipaddress) AS failure_source_ips
FROM successes AS s
INNER JOIN failures AS f
    ON
        s.account_id = f.account_id
        AND s.actor = f.actor
        AND s.event_time > f.event_time
        AND s.event_time - INTERVAL '30' MINUTE <= f.event_time
GROUP BY
    s.event_time,
    s.account_id,
    s.sourceipaddress,
    s.actor,
    s.identity_type,
    s.mfa_used,
    s.useragent,
    s.eventid
HAVING count(*) >= 5
