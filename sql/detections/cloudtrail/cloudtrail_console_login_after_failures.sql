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
equivalent_mutants:
  - mutant: "drop failures.where: eventsource = 'signin.amazonaws.com'"
    reason: >-
      ConsoleLogin is not a service API (no botocore service model has an
      operation of that name): it is AWS Sign-In's non-API sign-in event,
      which CloudTrail records only with eventsource signin.amazonaws.com
      for console, Discussion Forums and Support Center sign-ins alike
      (CloudTrail user guide, AWS Management Console sign-in events;
      Identity Center sign-ins are
      CredentialChallenge/CredentialVerification/UserAuthentication), so
      eventname = 'ConsoleLogin' already implies it.
  - mutant: "drop successes.where: eventsource = 'signin.amazonaws.com'"
    reason: >-
      ConsoleLogin is not a service API (no botocore service model has an
      operation of that name): it is AWS Sign-In's non-API sign-in event,
      which CloudTrail records only with eventsource signin.amazonaws.com
      for console, Discussion Forums and Support Center sign-ins alike
      (CloudTrail user guide, AWS Management Console sign-in events;
      Identity Center sign-ins are
      CredentialChallenge/CredentialVerification/UserAuthentication), so
      eventname = 'ConsoleLogin' already implies it.
  - mutant: "drop failures.where: eventname = 'ConsoleLogin'"
    reason: >-
      Both failure markers belong to ConsoleLogin records only: AWS Sign-In
      names the response key after the event (SwitchRole, CheckMfa,
      GetSigninToken ...), so responseElements.ConsoleLogin exists only on
      ConsoleLogin, and AWS documents errorMessage 'Failed authentication'
      only on failed ConsoleLogin records (Identity Center's failed
      CredentialVerification reports it in serviceEventDetails with no
      errorMessage). The signin event source plus either marker already
      implies eventname = 'ConsoleLogin'.
  - mutant: "drop successes.where: eventname = 'ConsoleLogin'"
    reason: >-
      responseElements.ConsoleLogin = 'Success' exists only on ConsoleLogin
      records (AWS Sign-In names each record's response key after its
      event: SwitchRole, CheckMfa, GetSigninToken, ExitRole ...), so the
      remaining conditions already imply eventname = 'ConsoleLogin'.
  - mutant: "negate failures.where: errormessage = 'Failed authentication'"
    reason: >-
      The two arms differ only on a ConsoleLogin that has an errorMessage
      but not responseElements.ConsoleLogin = 'Failure', and no such record
      exists: a ConsoleLogin with an errorMessage is a failed sign-in and
      CloudTrail marks every failed one ConsoleLogin = 'Failure' (wrong
      password 'Failed authentication', unknown user 'No username found in
      supplied account'), while successes have no errorMessage (NULL <> x
      is NULL). The errorMessage arm never decides, so negating it changes
      no result.
  - mutant: "drop successes.where: JSON_EXTRACT_SCALAR(responseelements, '$.ConsoleLogin') = 'Success'"
    reason: >-
      Implied by errormessage IS NULL on a ConsoleLogin: CloudTrail records
      ConsoleLogin with one of two results, and every 'Failure' carries an
      errorMessage ('Failed authentication', 'No username found in
      supplied account'), so a ConsoleLogin without one is a success.
  - mutant: "drop successes.where: errormessage IS NULL"
    reason: >-
      Implied by responseElements.ConsoleLogin = 'Success': successful
      sign-ins carry no errorMessage (only the 'Failure' result does), so
      no record passes one condition and fails the other.
  - mutant: "before widen: 30m -> 1h"
    reason: >-
      The join keeps only failures at most 30 minutes before a success,
      and every success is inside the window, so no failure earlier than
      30 minutes before the window can pair: reading from 1h before only
      reads rows the ON clause drops.
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
