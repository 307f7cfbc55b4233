/*
id: cloudtrail_sso_account_assignment_outside_iac
title: IAM Identity Center account assignment created outside infrastructure-as-code
description: >-
  A CreateAccountAssignment in IAM Identity Center, denied and failed
  attempts included, by a principal that is not on the reviewed list of
  infrastructure-as-code pipelines (sql/lookups/iac_principals.yaml,
  matched by the user or by the role behind an assumed-role session). An
  assignment gives a user or group a permission set in an account: the
  sign-in path to that account's role. Where access is managed as code, an
  assignment made by hand (a console session in the management account, an
  administrator's key) is drift or persistence: an attacker giving a user
  they control access to every account. Calls made by AWS services on the
  caller's behalf (invokedBy set, e.g. Control Tower's account factory) are
  not reported; removing an assignment is not access and is not reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098
  - TA0004:T1098
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read target_account, principal_type, principal_id,
     permission_set_arn, error_code and the actor.
  2. Resolve the principal: `aws identitystore describe-user` (or
     describe-group) `--identity-store-id <id> --user-id <principal_id>`;
     is it a person who should have that access?
  3. Ask the actor's team: assignments belong in the access-management
     repository; a new pipeline role belongs in
     sql/lookups/iac_principals.yaml.
  4. If unexplained: `aws sso-admin delete-account-assignment` with the
     same parameters, review the user's sign-ins since event_time, contain
     the actor.
false_positives:
  - Identity administrators granting access by hand in the console.
  - An access-management pipeline not yet on
    sql/lookups/iac_principals.yaml.
references:
  - https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreateAccountAssignment.html
  - https://docs.aws.amazon.com/singlesignon/latest/userguide/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1098/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'sso.amazonaws.com'"
    reason: >-
      CreateAccountAssignment is an operation of IAM Identity Center
      (sso-admin) only: no other service model in botocore 1.43 has an
      operation of that name, so the eventname already implies the
      eventsource.
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
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.targetId') AS target_account,
    json_extract_scalar(requestparameters, '$.permissionSetArn') AS permission_set_arn,
    json_extract_scalar(requestparameters, '$.principalType') AS principal_type,
    json_extract_scalar(requestparameters, '$.principalId') AS principal_id
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'sso.amazonaws.com'
    AND eventname = 'CreateAccountAssignment'
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
