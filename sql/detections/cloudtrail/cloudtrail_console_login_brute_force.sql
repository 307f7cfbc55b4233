/*
id: cloudtrail_console_login_brute_force
title: Repeated failed console sign-ins for one user
description: >-
  Five or more failed AWS Management Console sign-ins for the same user name
  (or root) in one account within an aligned 15-minute bucket: password
  guessing against the console. CloudTrail records sign-ins for user names
  that do not exist as HIDDEN_DUE_TO_SECURITY_REASONS, so spraying made-up
  names also groups under that single actor. Failures are recognised by
  responseElements.ConsoleLogin = 'Failure' or the errorMessage
  'Failed authentication'.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1110.001
dedup:
  keys: [account_id, actor]
  period: 15m
threshold: 5
runbook: |-
  1. Look at all sign-in events for the actor around the alert:
     SELECT event_time, sourceipaddress, useragent, errormessage,
     json_extract_scalar(responseelements, '$.ConsoleLogin') AS result
     FROM cloudtrail WHERE eventname = 'ConsoleLogin'
     AND account_id = '<account_id>' AND (useridentity.username = '<actor>'
     OR useridentity.arn = '<actor>') AND dt BETWEEN '<day-1>' AND '<day>'
     ORDER BY event_time.
  2. A Success after the failures from the same source_ip is a likely
     compromise: treat it as an incident (step 4).
  3. Ask the user whether they mistyped their password; check whether the
     source_ip values belong to the user, a VPN or a hosting provider.
  4. On compromise or ongoing guessing: reset the password
     (`aws iam update-login-profile --user-name <user> --password <new>
     --password-reset-required`), end running sessions with a deny-all
     policy conditioned on aws:TokenIssueTime, make sure MFA is enforced,
     and if needed deny the source IPs (aws:SourceIp condition in an SCP).
     For root: reset the root password and verify root MFA.
false_positives:
  - A user who forgot their password retrying several times (usually one
    source_ip with the user's normal user_agent, ending in a Success or a
    password reset).
  - Password managers or scripts retrying with a stale password.
references:
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
  - https://attack.mitre.org/techniques/T1110/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'signin.amazonaws.com'"
    reason: >-
      ConsoleLogin is not a service API (no botocore service model has an
      operation of that name): it is AWS Sign-In's non-API sign-in event,
      which CloudTrail records only with eventsource signin.amazonaws.com
      for console, Discussion Forums and Support Center sign-ins alike
      (CloudTrail user guide, AWS Management Console sign-in events;
      Identity Center sign-ins are
      CredentialChallenge/CredentialVerification/UserAuthentication), so
      eventname = 'ConsoleLogin' already implies it.
  - mutant: "drop main.where: eventname = 'ConsoleLogin'"
    reason: >-
      Both failure markers belong to ConsoleLogin records only: AWS Sign-In
      names the response key after the event (SwitchRole, CheckMfa,
      GetSigninToken ...), so responseElements.ConsoleLogin exists only on
      ConsoleLogin, and AWS documents errorMessage 'Failed authentication'
      only on failed ConsoleLogin records (the other sign-in events report
      failure in their own key, and Identity Center's failed
      CredentialVerification in serviceEventDetails with no errorMessage).
      The signin event source plus either marker already implies
      eventname = 'ConsoleLogin'.
  - mutant: "negate main.where: errormessage = 'Failed authentication'"
    reason: >-
      The two arms differ only on a ConsoleLogin that has an errorMessage
      but not responseElements.ConsoleLogin = 'Failure', and no such record
      exists: a ConsoleLogin with an errorMessage is a failed sign-in and
      CloudTrail marks every failed one ConsoleLogin = 'Failure' (wrong
      password 'Failed authentication', unknown user 'No username found in
      supplied account'), while successes have no errorMessage. The
      errorMessage arm never decides, so negating it changes no verdict.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    errormessage AS error_message,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(
        useridentity.username, useridentity.arn, useridentity.principalid
    ) AS actor
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'signin.amazonaws.com'
    AND eventname = 'ConsoleLogin'
    AND (
        errormessage = 'Failed authentication'
        OR json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure'
    )
