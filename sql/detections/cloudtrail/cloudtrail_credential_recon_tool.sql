/*
id: cloudtrail_credential_recon_tool
title: AWS API call from a secret scanner or offensive tool
description: >-
  Any AWS API call (typically sts GetCallerIdentity, the "whoami" used to
  validate a key, followed by enumeration) whose user agent identifies a
  secret-scanning or offensive tool, or an SDK running on a penetration
  testing distribution. Matched case-insensitively in userAgent:
  TruffleHog (validates leaked keys with GetCallerIdentity), Pacu,
  stratus-red-team (attack simulation), CloudFox, ScoutSuite, and the
  botocore/CLI OS fingerprints of Kali, Parrot and Pentoo (distrib#kali,
  -kali<n>-amd64, +kali, ...; the same fingerprints GuardDuty's PenTest
  findings use). A hit means the credentials are in a third party's hands
  (leaked key found by a scanner) or an attack tool is using them. Failed
  calls are included: a denied call still proves the key works. User agents
  are client-controlled, so a careful attacker can change them; this rule
  catches the default and careless cases.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0007:T1087.004
  - TA0001:T1078.004
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the credential: useridentity.accesskeyid (access_key_id) and
     its owner; find where it could have leaked (public repositories, CI
     logs, images): search for the key id in code hosting and secret
     scanning alerts.
  2. Check with the security team whether an approved scan or penetration
     test with this tool runs against this account now (source_ip and
     dates in the engagement letter).
  3. List everything the key did: SELECT event_time, eventsource,
     eventname, errorcode, sourceipaddress FROM cloudtrail WHERE
     useridentity.accesskeyid = '<access_key_id>' AND dt >= '<day-7>'
     ORDER BY event_time.
  4. If not approved: deactivate the key (`aws iam update-access-key
     --user-name <user> --access-key-id <id> --status Inactive`) or revoke
     the role sessions, rotate any secrets it could read, and open an
     incident.
false_positives:
  - Approved penetration tests or red-team exercises (Pacu, Stratus Red
    Team, Kali hosts) and internal secret-scanning with TruffleHog key
    verification.
  - Security audits with ScoutSuite or CloudFox run by the security team.
references:
  - https://github.com/trufflesecurity/trufflehog
  - https://github.com/RhinoSecurityLabs/pacu
  - https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html
  - https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
  - https://attack.mitre.org/techniques/T1087/004/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    eventsource AS event_source,
    useridentity.type AS identity_type,
    useridentity.accesskeyid AS access_key_id,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal
FROM cloudtrail
WHERE
    {{ window() }}
    AND regexp_like(
        lower(coalesce(useragent, '')),
        'trufflehog|\bpacu\b|stratus-red-team|cloudfox|scout ?suite'
        || '|distrib#(kali|parrot|pentoo)|[-+.]kali[0-9]*[-.]|\bparrot\b|pentoo'
    )
