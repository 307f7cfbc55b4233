/*
id: cloudtrail_sts_session_token_by_iam_user
title: Temporary credentials minted from IAM user keys without MFA
description: >-
  A successful GetSessionToken called by an IAM user without an MFA device
  (no serialNumber in the request), or any successful GetFederationToken.
  Attackers holding a user's long-term access key mint temporary
  credentials so that their access survives the key being deactivated or
  deleted (session tokens stay valid up to 36 hours, federation tokens can
  also reach the console), and GetFederationToken sessions appear under a
  name the attacker chooses. GetSessionToken with an MFA serial number is
  the normal MFA-protected CLI workflow and is not reported (a stolen key
  alone cannot pass MFA). Calls by roles cannot mint these tokens.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1550.001
  - TA0003:T1078.004
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the key used (access_key_id) and its owner: `aws iam
     list-access-keys --user-name <user>`; `aws iam get-access-key-last-used
     --access-key-id <access_key_id>`.
  2. Check whether this user normally mints tokens (a known script or
     broker, usual source_ip / user_agent): SELECT event_time, eventname,
     sourceipaddress, useragent FROM cloudtrail WHERE eventsource =
     'sts.amazonaws.com' AND useridentity.arn = '<actor>' AND dt >=
     '<day-7>' ORDER BY event_time.
  3. Follow what the new temporary key did (its id is in
     responseelements.credentials.accessKeyId): SELECT event_time,
     eventname, sourceipaddress FROM cloudtrail WHERE
     useridentity.accesskeyid = '<temporary key id>' AND dt >= '<day>'.
  4. If unexplained: deactivate the user's keys, and revoke the issued
     tokens with an inline deny policy on the user conditioned on
     aws:TokenIssueTime (deleting the key does not revoke session tokens);
     for GetFederationToken sessions the deny must be on the user too.
false_positives:
  - Scripts and tools that call GetSessionToken without MFA to get
    short-lived credentials (e.g. for containers or CI).
  - Custom federation brokers using GetFederationToken by design.
references:
  - https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html
  - https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html
  - https://attack.mitre.org/techniques/T1550/001/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useridentity.accesskeyid AS access_key_id,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.name') AS federated_name
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'sts.amazonaws.com'
    AND errorcode IS NULL
    AND (
        eventname = 'GetFederationToken'
        OR (
            eventname = 'GetSessionToken'
            AND useridentity.type = 'IAMUser'
            AND json_extract_scalar(
                requestparameters, '$.serialNumber'
            ) IS NULL
        )
    )
