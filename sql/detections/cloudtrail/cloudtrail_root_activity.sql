/*
id: cloudtrail_root_activity
title: Root account activity
description: >-
  The root user of an AWS account signed in to the console successfully or
  made a successful API call. Root is not constrained by IAM policies or
  permission boundaries (only by SCPs in an organization) and AWS recommends
  using it only for the few tasks that require it, so any use outside a
  planned, ticketed task is a possible account takeover. Failed root
  sign-ins are not activity (cloudtrail_console_login_brute_force counts
  them): sign-in events (ConsoleLogin, PasswordUpdated, CheckMfa, ...)
  report failure as "Failure" in responseElements with no errorCode, so a
  sign-in event counts only without that marker. Events AWS records on
  root's behalf (eventType AwsServiceEvent, or userIdentity.invokedBy set
  to a service) are ignored, except invokedBy signin.amazonaws.com: that is
  how AWS records root's own console actions on its Security credentials
  page (access keys, MFA devices).
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1078.004
dedup:
  keys: [account_id]
  period: 1h
threshold: 1
runbook: |-
  1. Ask the account owner whether a root task was planned and for its change
     ticket; root-only tasks are listed in the first reference.
  2. List all root events of the account around the alert:
     SELECT event_time, eventsource, eventname, sourceipaddress, useragent,
     errorcode, requestparameters FROM cloudtrail
     WHERE account_id = '<account_id>' AND useridentity.type = 'Root'
     AND dt BETWEEN '<day-1>' AND '<day>' ORDER BY event_time;
     look for IAM, access key, MFA, password, contact or billing changes.
  3. Compare source_ip with corporate egress ranges and user_agent with the
     usual browser; mfa_used = 'No' on ConsoleLogin means password only;
     an access_key_id starting with AKIA means a long-term root access key.
  4. If not planned: reset the root password, re-register root MFA, delete
     root access keys (IAM console > Security credentials), check
     `aws iam get-account-summary` (AccountAccessKeysPresent,
     AccountMFAEnabled), revert the changes found in step 2 and open an
     incident. In an organization, consider centralized root access
     (`aws iam enable-organizations-root-credentials-management`).
false_positives:
  - Planned root-only tasks done under a ticket (changing account settings or
    the support plan, closing the account, restoring IAM admin access).
  - Privileged root sessions started with sts:AssumeRoot from the management
    account for centralized root access tasks.
references:
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
  - https://attack.mitre.org/techniques/T1078/004/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    eventsource AS event_source,
    awsregion AS aws_region,
    useragent AS user_agent,
    useridentity.accesskeyid AS access_key_id,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    json_extract_scalar(additionaleventdata, '$.MFAUsed') AS mfa_used
FROM cloudtrail
WHERE
    {{ window() }}
    AND useridentity.type = 'Root'
    AND (
        useridentity.invokedby IS NULL
        OR useridentity.invokedby = 'signin.amazonaws.com'
    )
    AND coalesce(eventtype, '') <> 'AwsServiceEvent'
    AND errorcode IS NULL
    -- Sign-in events carry their outcome in responseElements ({"PasswordUpdated": "Failure"}), not errorCode.
    AND (
        eventsource <> 'signin.amazonaws.com'
        OR NOT regexp_like(coalesce(responseelements, ''), ':\s*"Failure"')
    )
