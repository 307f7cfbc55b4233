/*
id: cloudtrail_mfa_device_deactivated
title: IAM MFA device deactivated or deleted
description: >-
  An MFA device was removed from an IAM user or the root user
  (DeactivateMFADevice) or a virtual MFA device was deleted
  (DeleteVirtualMFADevice). Removing MFA weakens the sign-in of the
  account it protected; an attacker holding a password or keys does this
  before registering a device of their own. The console removes a virtual
  device with both calls, so one removal can show as two hits of the same
  alert. Root's device serial numbers end in root-account-mfa-device. Only
  successful calls are reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1556.006
  - TA0005:T1556.006
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Identify whose MFA was removed (target_user, or the serial number in
     target) and by whom (actor, source_ip, user_agent); a user removing
     their own device while replacing a phone is common.
  2. Check that user's current devices: `aws iam list-mfa-devices
     --user-name <target_user>` and whether a new device was enabled
     (EnableMFADevice, CreateVirtualMFADevice) by someone else shortly
     after.
  3. Ask the user to confirm. For root, treat any unexplained removal as an
     incident.
  4. If unexplained: reset the user's password and keys, re-enroll MFA with
     the user in person, contain the actor (deactivate its keys or revoke
     its sessions) and review its activity since event_time.
false_positives:
  - Users replacing a lost or new phone (remove, then enroll a new
    device).
  - Administrators removing MFA for a departing user, or cleaning up
    unassigned virtual devices.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeactivateMFADevice.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteVirtualMFADevice.html
  - https://attack.mitre.org/techniques/T1556/006/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      DeactivateMFADevice and DeleteVirtualMFADevice are IAM API actions only:
      no other AWS service has an operation of either name (checked against
      every botocore service model; IAM Identity Center and Cognito name their
      MFA calls differently), and IAM records them, console and root removals
      included, with eventSource iam.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.userName') AS target_user,
    json_extract_scalar(requestparameters, '$.serialNumber') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN ('DeactivateMFADevice', 'DeleteVirtualMFADevice')
    AND errorcode IS NULL
