/*
id: cloudtrail_role_trust_opened
title: IAM role trust policy opened to any AWS principal
description: >-
  A role's trust policy now lets anyone assume it: a successful
  UpdateAssumeRolePolicy (or CreateRole) whose policy document has a
  statement with Effect Allow and Principal "*", {"AWS": "*"} or an AWS
  principal list containing "*". Any AWS account can then call
  sts:AssumeRole on the role, unless a Condition restricts it (which the
  rule does not evaluate: a condition written by an attacker is no
  protection). The test is a regular expression over the policy JSON that
  stays inside one statement (nested Condition objects are skipped), so a
  Deny statement with Principal "*" does not match. Trust granted to a
  specific account outside the organization is
  cloudtrail_role_trust_external_account's (it reads the reviewed list
  sql/lookups/known_accounts.yaml). Only successful calls are reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098.003
  - TA0004:T1098.003
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read the new trust policy (request_parameters policyDocument or
     assumeRolePolicyDocument) and the current one: `aws iam get-role
     --role-name <target> --query Role.AssumeRolePolicyDocument`. Note any
     Condition (sts:ExternalId, aws:PrincipalOrgID) and whose values they
     are.
  2. Check what the role can do: `aws iam list-attached-role-policies
     --role-name <target>` and `aws iam list-role-policies --role-name
     <target>`.
  3. Look for assumptions from outside the organization since event_time:
     SELECT event_time, sourceipaddress, useridentity.accountid,
     useridentity.arn FROM cloudtrail WHERE eventname = 'AssumeRole' AND
     json_extract_scalar(requestparameters, '$.roleArn') LIKE '%/<target>'
     AND dt >= '<day>' ORDER BY event_time.
  4. If unexplained: restore the previous trust policy (`aws iam
     update-assume-role-policy --role-name <target> --policy-document
     file://trust.json`), revoke active sessions (IAM console "Revoke active
     sessions" or a deny policy on aws:TokenIssueTime), contain the actor
     and open an incident.
false_positives:
  - Roles meant for third-party SaaS integrations that use Principal "*"
    with an sts:ExternalId or aws:PrincipalOrgID condition (prefer naming
    the vendor's account instead).
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      UpdateAssumeRolePolicy and CreateRole are operations of IAM only per the
      AWS SDK service models (botocore 1.43), so the eventname list already
      implies eventsource iam.amazonaws.com.
  - mutant: "drop main.where: eventname IN ('UpdateAssumeRolePolicy', 'CreateRole')"
    reason: >-
      The policy test needs a policyDocument or assumeRolePolicyDocument with
      an Allow statement naming a Principal. Per the botocore 1.43 IAM model,
      the only other IAM operations with a policy document in the request are
      PutUserPolicy, PutGroupPolicy, PutRolePolicy, CreatePolicy and
      CreatePolicyVersion, whose documents are identity-based policies: IAM
      rejects a Principal element there (MalformedPolicyDocument), so such a
      call carries an errorCode and errorcode IS NULL already removes it.
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
    json_extract_scalar(requestparameters, '$.roleName') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN ('UpdateAssumeRolePolicy', 'CreateRole')
    AND errorcode IS NULL
    -- One statement (nested objects skipped) with Effect Allow and a wildcard principal, in either order.
    AND regexp_like(
        coalesce(
            json_extract_scalar(requestparameters, '$.policyDocument'),
            json_extract_scalar(requestparameters, '$.assumeRolePolicyDocument')
        ),
        '\{([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*('
        || '"Effect"\s*:\s*"Allow"([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*'
        || '"Principal"\s*:\s*("\*"|\{[^{}]*"AWS"\s*:\s*("\*"|\[[^\]]*"\*"[^\]]*\])[^{}]*\})'
        || '|"Principal"\s*:\s*("\*"|\{[^{}]*"AWS"\s*:\s*("\*"|\[[^\]]*"\*"[^\]]*\])[^{}]*\})'
        || '([^{}]|\{[^{}]*(\{[^{}]*\}[^{}]*)*\})*"Effect"\s*:\s*"Allow")'
    )
