/*
id: cloudtrail_roles_anywhere_trust_changed
title: IAM Roles Anywhere trust anchor, profile or revocation list changed
description: >-
  A trust anchor or profile of IAM Roles Anywhere was created, updated or
  enabled (CreateTrustAnchor, UpdateTrustAnchor, EnableTrustAnchor,
  CreateProfile, UpdateProfile, EnableProfile), or a certificate revocation
  list was disabled, deleted or replaced (DisableCrl, DeleteCrl, UpdateCrl).
  A trust anchor names a certificate authority whose certificates can be
  exchanged for role credentials through a profile: an attacker who
  registers their own CA gets credentials for the profile's roles from
  anywhere, for as long as their certificates last, without an access key
  to rotate; weakening the revocation list revives certificates that were
  revoked. Successful calls and denied ones (AccessDenied,
  AccessDeniedException) are reported: trying is the signal. Changes made
  by CloudFormation stacks (userIdentity.invokedBy
  cloudformation.amazonaws.com) are the reviewed infrastructure-as-code
  path and are not reported; deleting or disabling anchors and profiles
  removes access and is not reported either.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098.001
  - TA0005:T1556
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: for a trust anchor the source (sourceType
     CERTIFICATE_BUNDLE is a CA certificate uploaded by the caller,
     AWS_ACM_PCA an AWS Private CA) and its certificate; for a profile the
     roleArns and managedPolicyArns it hands out. Compare with the current
     state: `aws rolesanywhere list-trust-anchors`, `aws rolesanywhere
     list-profiles`.
  2. Ask the platform team for the change (Roles Anywhere is set up rarely,
     normally through reviewed infrastructure code).
  3. Look for credentials issued since event_time: SELECT event_time,
     sourceipaddress, requestparameters FROM cloudtrail WHERE eventsource =
     'rolesanywhere.amazonaws.com' AND eventname = 'CreateSession' AND dt
     >= '<day>' ORDER BY event_time.
  4. If unexplained: disable the trust anchor and profile (`aws
     rolesanywhere disable-trust-anchor --trust-anchor-id <id>`, `aws
     rolesanywhere disable-profile --profile-id <id>`), revoke sessions of
     the roles it served (deny on aws:TokenIssueTime), contain the actor.
false_positives:
  - Platform engineers setting up Roles Anywhere for on-premises workloads
    outside CloudFormation (Terraform, console), under a change ticket.
  - Routine CRL refreshes with UpdateCrl by a PKI automation role.
references:
  - https://docs.aws.amazon.com/rolesanywhere/latest/userguide/introduction.html
  - https://docs.aws.amazon.com/rolesanywhere/latest/userguide/trust-model.html
  - https://docs.aws.amazon.com/rolesanywhere/latest/userguide/logging-cloudtrail.html
  - https://attack.mitre.org/techniques/T1098/001/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.name'),
        json_extract_scalar(requestparameters, '$.trustAnchorId'),
        json_extract_scalar(requestparameters, '$.profileId'),
        json_extract_scalar(requestparameters, '$.crlId')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'rolesanywhere.amazonaws.com'
    AND eventname IN (
        'CreateTrustAnchor',
        'UpdateTrustAnchor',
        'EnableTrustAnchor',
        'CreateProfile',
        'UpdateProfile',
        'EnableProfile',
        'DisableCrl',
        'DeleteCrl',
        'UpdateCrl'
    )
    AND (
        errorcode IS NULL
        OR errorcode IN ('AccessDenied', 'AccessDeniedException')
    )
    AND coalesce(useridentity.invokedby, '') <> 'cloudformation.amazonaws.com'
