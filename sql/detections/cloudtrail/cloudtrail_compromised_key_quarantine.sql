/*
id: cloudtrail_compromised_key_quarantine
title: AWS attached its compromised-key quarantine policy (a key of this account leaked), or someone removed it
description: >-
  An AttachUserPolicy, AttachRolePolicy or AttachGroupPolicy of an AWS
  managed quarantine policy (AWSCompromisedKeyQuarantine,
  AWSCompromisedKeyQuarantineV2, AWSCompromisedKeyQuarantineV3, in any
  partition), or a Detach of one, denied and failed attempts included.
  AWS attaches the policy itself, within minutes, when it finds an IAM
  user's access key exposed in public (a GitHub commit, a paste): it
  means a key of this account is in strangers' hands, and the policy
  denies only some of what they can do. Detaching it, or trying to, is
  the leaked key's holder (the V1 policy denies iam:DetachUserPolicy, so
  the attempt fails) or an administrator lifting the quarantine before the
  key is rotated. No caller is excluded: the attach is AWS's own call and
  is the signal. Customer managed policies that copy the name are not
  AWS's quarantine and are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1552.001
  - TA0001:T1078.004
dedup:
  keys: [account_id, target]
  period: 24h
threshold: 1
runbook: |-
  1. Read target (the user, role or group), policy_arn and
     event_name: which identity did AWS quarantine, or who removed the
     quarantine? Look for the AWS support case and the "Your AWS Access
     Key is Exposed" email to the account's contacts.
  2. List the identity's keys (`aws iam list-access-keys --user-name
     <target>`) and when each was last used (`aws iam
     get-access-key-last-used`); search mamori for the exposed key id and
     the identity's calls since the leak (`mamori search`).
  3. Deactivate and delete the exposed key, rotate whatever it could
     reach, and only then detach the quarantine policy.
  4. Review what the key did: new users, roles, keys, instances (the
     policy denies some of these but not reads, S3 or secrets).
false_positives:
  - An administrator detaching the policy after the exposed key was
    deleted, as AWS's support case asks (confirm the key is gone).
  - Security training accounts that leak keys on purpose.
references:
  - https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCompromisedKeyQuarantineV3.html
  - https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCompromisedKeyQuarantineV2.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html
  - https://attack.mitre.org/techniques/T1552/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) AttachUserPolicy,
      AttachRolePolicy, AttachGroupPolicy and their Detach counterparts
      exist only in IAM, so the eventname list already implies eventsource
      iam.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid, useridentity.invokedby) AS actor,
    json_extract_scalar(requestparameters, '$.policyArn') AS policy_arn,
    coalesce(
        json_extract_scalar(requestparameters, '$.userName'),
        json_extract_scalar(requestparameters, '$.roleName'),
        json_extract_scalar(requestparameters, '$.groupName')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN (
        'AttachUserPolicy',
        'AttachRolePolicy',
        'AttachGroupPolicy',
        'DetachUserPolicy',
        'DetachRolePolicy',
        'DetachGroupPolicy'
    )
    -- AWS managed policies live in account "aws"; a customer policy of the same name has the account's id.
    AND regexp_like(
        json_extract_scalar(requestparameters, '$.policyArn'),
        '^arn:aws[a-z-]*:iam::aws:policy/AWSCompromisedKeyQuarantine(V[0-9]+)?$'
    )
