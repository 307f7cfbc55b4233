/*
id: cloudtrail_iam_permissions_boundary_removed
title: IAM permissions boundary removed from a user or role outside infrastructure-as-code
description: >-
  A DeleteUserPermissionsBoundary or DeleteRolePermissionsBoundary, denied
  and failed attempts included, by a principal that is not on the reviewed
  list of infrastructure-as-code pipelines
  (sql/lookups/iac_principals.yaml, matched by the user or by the role
  behind an assumed-role session). A permissions boundary caps what a user
  or role may do whatever its policies say; delegated administration
  relies on it (teams may create roles only with the boundary attached).
  Removing it lets the identity use every right its policies grant, so it
  is a privilege escalation, and a principal removing its own boundary is
  the textbook case. Putting a boundary on is not reported, nor are calls
  made by AWS services on the caller's behalf (invokedBy set).
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.003
  - TA0005:T1562
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (target_kind user or role), error_code and the actor: is
     the target the actor itself, or a role the actor can assume?
  2. Check what the target's policies now allow without the boundary
     (`aws iam list-attached-role-policies` / `list-role-policies`, or the
     user variants).
  3. Ask the actor's team; boundaries are set by the identity pipeline.
  4. If unexplained: put the boundary back (`aws iam
     put-role-permissions-boundary` / `put-user-permissions-boundary`),
     review what the target did since event_time, contain the actor.
false_positives:
  - Administrators lifting a boundary by hand while a policy is being
    fixed.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRolePermissionsBoundary.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      DeleteUserPermissionsBoundary and DeleteRolePermissionsBoundary are
      operations of IAM only: no other service model in botocore 1.43 has
      an operation of either name, so the eventname list already implies
      eventsource iam.amazonaws.com.
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
    coalesce(
        json_extract_scalar(requestparameters, '$.userName'),
        json_extract_scalar(requestparameters, '$.roleName')
    ) AS target,
    CASE WHEN eventname = 'DeleteUserPermissionsBoundary' THEN 'user' ELSE 'role' END AS target_kind
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN ('DeleteUserPermissionsBoundary', 'DeleteRolePermissionsBoundary')
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
