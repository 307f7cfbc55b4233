/*
id: cloudtrail_login_profile_changed_for_other_user
title: Console password created or changed for another user
description: >-
  A principal created or changed the console password (login profile) of
  another identity: CreateLoginProfile or UpdateLoginProfile where
  requestParameters.userName names an IAM user other than the calling IAM
  user, or any call by a caller that is not an IAM user (assumed role,
  federated user, root). A call without userName by a non-IAM-user caller
  (root, including an sts:AssumeRoot session from the management account)
  targets the root user's password and is reported too. Giving an existing
  user a console password, or resetting it, lets the caller sign in as that
  user. User names are compared case-insensitively, as IAM treats them.
  Only successful calls.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098
dedup:
  keys: [account_id, principal, target_user]
  period: 1h
threshold: 1
runbook: |-
  1. Look at the target user (target_user; NULL means root): `aws iam
     get-login-profile --user-name <target_user>`, `aws iam
     list-mfa-devices --user-name <target_user>` and its attached policies.
  2. Ask the actor's team for the ticket (onboarding, password reset
     request from the user); check that the user was told to reset it
     (passwordResetRequired in request_parameters).
  3. Look for console sign-ins of the target since event_time: SELECT
     event_time, sourceipaddress, useragent FROM cloudtrail WHERE eventname
     = 'ConsoleLogin' AND useridentity.username = '<target_user>' AND dt >=
     '<day>' ORDER BY event_time.
  4. If unexplained: delete or reset the login profile (`aws iam
     delete-login-profile --user-name <target_user>`), revoke the target's
     sessions, contain the actor, and open an incident.
false_positives:
  - Administrators or identity automation onboarding users or handling
    password-reset requests.
  - Break-glass procedures that reset root or admin passwords.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateLoginProfile.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateLoginProfile.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html
  - https://attack.mitre.org/techniques/T1098/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      CreateLoginProfile and UpdateLoginProfile are IAM API actions only: no
      other AWS service has an operation of either name (checked against every
      botocore service model), and IAM records them with eventSource
      iam.amazonaws.com, so the eventname IN (...) conjunct already implies
      the source.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.userName') AS target_user
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN ('CreateLoginProfile', 'UpdateLoginProfile')
    AND errorcode IS NULL
    AND (
        coalesce(useridentity.type, '') <> 'IAMUser'
        OR lower(json_extract_scalar(requestparameters, '$.userName'))
        <> lower(coalesce(useridentity.username, ''))
    )
