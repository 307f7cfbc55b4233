/*
id: cloudtrail_access_key_created_for_other_user
title: IAM access key created for another user
description: >-
  A principal created an access key for an IAM user other than itself
  (CreateAccessKey with requestParameters.userName naming someone else).
  Users normally rotate their own keys; minting a key for another user is a
  common way to keep persistent access with that user's permissions. A
  caller that is not an IAM user (assumed role, federated user, root) has no
  key of its own in IAM, so any key it creates for a user is reported; a role
  is never the same principal as a user of the same name. User names are
  compared case-insensitively, as IAM treats them. Only successful calls.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098.001
dedup:
  keys: [account_id, principal, target_user]
  period: 1h
threshold: 1
runbook: |-
  1. List the target user's keys and their use:
     `aws iam list-access-keys --user-name <target_user>` and
     `aws iam get-access-key-last-used --access-key-id <new key id>` (the
     new key id is in responseelements.accessKey.accessKeyId).
  2. Ask the actor's team why a key was created for the target user (a
     ticket, an onboarding or a rotation runbook); check that the target
     user is meant to have programmatic access at all.
  3. Check what the new key did: SELECT event_time, eventsource, eventname,
     sourceipaddress, errorcode FROM cloudtrail
     WHERE useridentity.accesskeyid = '<new key id>'
     AND dt >= '<day>' ORDER BY event_time.
  4. If unexplained: deactivate and delete the key
     (`aws iam update-access-key --user-name <target_user> --access-key-id
     <id> --status Inactive`, then `aws iam delete-access-key`), contain the
     actor (disable its keys or revoke its role sessions) and open an
     incident.
false_positives:
  - Identity or provisioning automation (a role) that issues keys to
    service users by design.
  - Administrators creating the first key for a newly onboarded user.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html
  - https://attack.mitre.org/techniques/T1098/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      CreateAccessKey is an operation of IAM only: no other service model in
      botocore 1.43 has an operation of that name (Lightsail's is
      CreateBucketAccessKey), so eventname = 'CreateAccessKey' already
      implies eventsource iam.amazonaws.com.
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
    json_extract_scalar(
        responseelements, '$.accessKey.accessKeyId'
    ) AS new_access_key_id
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname = 'CreateAccessKey'
    AND errorcode IS NULL
    AND json_extract_scalar(requestparameters, '$.userName') IS NOT NULL
    AND (
        coalesce(useridentity.type, '') <> 'IAMUser'
        OR lower(json_extract_scalar(requestparameters, '$.userName'))
        <> lower(coalesce(useridentity.username, ''))
    )
