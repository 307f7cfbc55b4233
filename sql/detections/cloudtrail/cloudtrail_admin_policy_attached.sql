/*
id: cloudtrail_admin_policy_attached
title: Administrator access granted to an IAM user, role or group
description: >-
  A principal granted full administrator rights in IAM: a successful
  AttachUserPolicy, AttachRolePolicy or AttachGroupPolicy of the AWS managed
  policy AdministratorAccess (any partition: aws, aws-us-gov, aws-cn), or a
  PutUserPolicy, PutRolePolicy or PutGroupPolicy whose inline policy
  document has one statement with Effect Allow, Action "*" and Resource "*"
  (a string or an element of a list, keys in any order). The statement test
  is a regular expression over the policy JSON that stays inside one
  statement (it skips nested Condition objects), so a deny-all statement or
  Action "*" and Resource "*" in different statements do not match.
  Escalating a foothold to administrator is a common step after an initial
  compromise. Only successful calls are reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.003
  - TA0003:T1098.003
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the grantee (target; identity_kind is the request key:
     userName, roleName or groupName) and what was granted
     (request_parameters: policyArn or the inline policyDocument).
  2. Ask the actor's team for the change ticket. Granting
     AdministratorAccess outside the identity team's pipeline (known role and
     user_agent, e.g. Terraform) is unexpected.
  3. Review what the grantee and the actor did since event_time:
     SELECT event_time, eventsource, eventname, sourceipaddress, errorcode
     FROM cloudtrail WHERE (useridentity.arn LIKE '%/<target>%' OR
     useridentity.arn = '<actor>') AND dt >= '<day>' ORDER BY event_time.
  4. If unexplained: remove the grant (`aws iam detach-user-policy
     --user-name <target> --policy-arn
     arn:aws:iam::aws:policy/AdministratorAccess`, or detach-role-policy /
     detach-group-policy; for inline policies `aws iam delete-user-policy
     --user-name <target> --policy-name <policyName>`), contain the actor
     (deactivate its keys or revoke its role sessions) and open an incident.
false_positives:
  - Break-glass or bootstrap procedures that grant administrator rights to
    a new account's admin role under a change ticket.
  - Infrastructure-as-code creating admin roles for platform teams (known
    deployment role and user agent).
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachUserPolicy.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html
  - https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AdministratorAccess.html
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      AttachUserPolicy, AttachRolePolicy, AttachGroupPolicy, PutUserPolicy,
      PutRolePolicy and PutGroupPolicy are operations of IAM only: no other
      service model in botocore 1.43 has an operation of any of those names
      (IAM Identity Center's are AttachManagedPolicyToPermissionSet and
      PutInlinePolicyToPermissionSet), so the eventname lists already imply
      eventsource iam.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.userName'),
        json_extract_scalar(requestparameters, '$.roleName'),
        json_extract_scalar(requestparameters, '$.groupName')
    ) AS target,
    CASE
        WHEN json_extract_scalar(requestparameters, '$.userName') IS NOT NULL THEN 'user'
        WHEN json_extract_scalar(requestparameters, '$.roleName') IS NOT NULL THEN 'role'
        ELSE 'group'
    END AS identity_kind,
    coalesce(
        json_extract_scalar(requestparameters, '$.policyArn'),
        json_extract_scalar(requestparameters, '$.policyName')
    ) AS policy_ref
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND errorcode IS NULL
    AND (
        (
            eventname IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy')
            AND regexp_like(
                json_extract_scalar(requestparameters, '$.policyArn'),
                '^arn:aws(-[a-z-]+)?:iam::aws:policy/AdministratorAccess$'
            )
        )
        OR (
            eventname IN ('PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
            -- One statement (nested objects skipped) holding Allow, Action "*" and Resource "*".
            AND regexp_like(
                json_extract_scalar(requestparameters, '$.policyDocument'),
                '\{([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*('
                || '"Effect"\s*:\s*"Allow"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*('
                || '"Action"\s*:\s*(\[[^\]]*)?"\*"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*'
                || '"Resource"\s*:\s*(\[[^\]]*)?"\*"'
                || '|"Resource"\s*:\s*(\[[^\]]*)?"\*"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*'
                || '"Action"\s*:\s*(\[[^\]]*)?"\*")'
                || '|"Action"\s*:\s*(\[[^\]]*)?"\*"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*('
                || '"Effect"\s*:\s*"Allow"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*'
                || '"Resource"\s*:\s*(\[[^\]]*)?"\*"'
                || '|"Resource"\s*:\s*(\[[^\]]*)?"\*"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*'
                || '"Effect"\s*:\s*"Allow")'
                || '|"Resource"\s*:\s*(\[[^\]]*)?"\*"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*('
                || '"Effect"\s*:\s*"Allow"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*'
                || '"Action"\s*:\s*(\[[^\]]*)?"\*"'
                || '|"Action"\s*:\s*(\[[^\]]*)?"\*"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*'
                || '"Effect"\s*:\s*"Allow"))'
            )
        )
    )
