/*
id: cloudtrail_sso_admin_permission_set
title: AdministratorAccess attached to an IAM Identity Center permission set
description: >-
  A successful AttachManagedPolicyToPermissionSet of the AWS managed policy
  AdministratorAccess (any partition) in IAM Identity Center. A permission
  set is provisioned as a role in every account it is assigned to, so
  making one administrator grants full rights in all of those accounts at
  once, to every user and group assigned to it; attackers holding the
  management or delegated administrator account use this to spread across
  the organization. Scoped managed policies (ReadOnlyAccess,
  AdministratorAccess-Amplify and the like) are not reported. Who is given
  a permission set is cloudtrail_sso_account_assignment_outside_iac's.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.003
  - TA0003:T1098.003
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read permission_set_arn and the actor: which permission set became
     administrator, and who changed it (source_ip, user_agent)?
  2. List where it is assigned and to whom: `aws sso-admin
     list-accounts-for-provisioned-permission-set` and `aws sso-admin
     list-account-assignments`.
  3. Ask the identity team for the change request; administrator
     permission sets are normally few, named and managed as code.
  4. If unexplained: detach the policy (`aws sso-admin
     detach-managed-policy-from-permission-set`), re-provision the
     permission set, remove assignments made since event_time, contain the
     actor and open an incident.
false_positives:
  - The identity team creating an administrator permission set under a
    change ticket (once per organization, rarely afterwards).
references:
  - https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_AttachManagedPolicyToPermissionSet.html
  - https://docs.aws.amazon.com/singlesignon/latest/userguide/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'sso.amazonaws.com'"
    reason: >-
      AttachManagedPolicyToPermissionSet is an operation of IAM Identity
      Center (sso-admin) only: no other service model in botocore 1.43 has
      an operation of that name, so the eventname already implies the
      eventsource.
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
    json_extract_scalar(requestparameters, '$.permissionSetArn') AS permission_set_arn,
    json_extract_scalar(requestparameters, '$.managedPolicyArn') AS policy_arn
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'sso.amazonaws.com'
    AND eventname = 'AttachManagedPolicyToPermissionSet'
    AND errorcode IS NULL
    AND regexp_like(
        json_extract_scalar(requestparameters, '$.managedPolicyArn'),
        '^arn:aws(-[a-z-]+)?:iam::aws:policy/AdministratorAccess$'
    )
