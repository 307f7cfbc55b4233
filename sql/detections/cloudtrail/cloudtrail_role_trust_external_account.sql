/*
id: cloudtrail_role_trust_external_account
title: IAM role trust policy grants an unknown AWS account
description: >-
  A successful UpdateAssumeRolePolicy or CreateRole whose trust policy lets
  a specific AWS account outside the organization assume the role: an Allow
  statement's AWS principal names an account (as a bare account id or in an
  IAM/STS ARN such as arn:aws:iam::444455556666:root) that is neither the
  role's own account nor on the reviewed list sql/lookups/known_accounts.yaml.
  Adding their own account to a role's trust is how attackers keep access
  after the stolen keys are rotated (Pacu iam__backdoor_assume_role): the
  role is then assumed from outside, where this organization's CloudTrail
  does not see the caller. cloudtrail_role_trust_opened covers Principal
  "*"; this rule covers the named account that rule cannot judge. Deny
  statements, service principals (ec2.amazonaws.com ...) and federated
  principals (SAML/OIDC providers) are not reported; conditions such as
  sts:ExternalId are not evaluated (an attacker writes them too). Failed
  calls are not reported here (denied ones count in
  cloudtrail_sensitive_api_denied).
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
  1. Identify the account(s) in external_accounts: is it a new workload
     account of the organization (`aws organizations describe-account
     --account-id <id>` from the management account) or a vendor with a
     contract? Then it belongs in sql/lookups/known_accounts.yaml (a
     reviewed change), not in a suppression.
  2. Read the new trust policy (request_parameters) and the role's
     permissions: `aws iam list-attached-role-policies --role-name
     <target>`, `aws iam list-role-policies --role-name <target>`.
  3. Look for assumptions of the role from that account since event_time:
     SELECT event_time, useridentity.accountid, useridentity.arn,
     sourceipaddress FROM cloudtrail WHERE eventname = 'AssumeRole' AND
     json_extract_scalar(requestparameters, '$.roleArn') LIKE
     '%/<target>' AND dt >= '<day>' ORDER BY event_time.
  4. If unexplained: restore the previous trust policy (`aws iam
     update-assume-role-policy --role-name <target> --policy-document
     file://trust.json`), revoke the role's active sessions (deny on
     aws:TokenIssueTime), contain the actor and open an incident.
false_positives:
  - A new account of the organization or a newly contracted vendor that is
    not yet on sql/lookups/known_accounts.yaml (add it there, reviewed).
  - Cross-account access granted on purpose to a partner for a one-off
    migration.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop trust_changes.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      UpdateAssumeRolePolicy and CreateRole are operations of IAM only per the
      AWS SDK service models (botocore 1.43), so the eventname list already
      implies eventsource iam.amazonaws.com.
  - mutant: "drop trust_changes.where: eventname IN ('UpdateAssumeRolePolicy', 'CreateRole')"
    reason: >-
      An account can only be found in a policyDocument or
      assumeRolePolicyDocument naming an AWS Principal in an Allow statement.
      Per the botocore 1.43 IAM model, the only other IAM operations with a
      policy document in the request are PutUserPolicy, PutGroupPolicy,
      PutRolePolicy, CreatePolicy and CreatePolicyVersion, whose documents are
      identity-based policies: IAM rejects a Principal element there
      (MalformedPolicyDocument), so such a call carries an errorCode and
      errorcode IS NULL already removes it.
*/
WITH trust_changes AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        useridentity.type AS identity_type,
        useragent,
        requestparameters,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        json_extract_scalar(requestparameters, '$.roleName') AS target,
        coalesce(
            json_extract_scalar(requestparameters, '$.policyDocument'),
            json_extract_scalar(requestparameters, '$.assumeRolePolicyDocument')
        ) AS trust_policy
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'iam.amazonaws.com'
        AND eventname IN ('UpdateAssumeRolePolicy', 'CreateRole')
        AND errorcode IS NULL
),

-- The accounts named by the AWS principals of the Allow statements: the text after "Statement" is cut into its
-- top-level objects (a statement nests at most three deep: Condition, operator, key), and in each Allow
-- statement the "AWS" value is searched for 12 digits standing alone (a bare id) or between colons (an ARN).
-- Digits inside a role name, a Condition value or a federated provider's ARN are not an account.
principals AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        identity_type,
        useragent,
        requestparameters,
        eventid,
        actor,
        principal,
        target,
        regexp_extract_all(
            array_join(
                transform(
                    filter(
                        regexp_extract_all(
                            coalesce(regexp_extract(trust_policy, '"Statement"\s*:\s*([\s\S]*)', 1), ''),
                            '\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}'
                        ),
                        s -> regexp_like(s, '"Effect"\s*:\s*"Allow"')
                    ),
                    s -> array_join(regexp_extract_all(s, '"AWS"\s*:\s*("[^"]*"|\[[^\]]*\])', 1), ' ')
                ),
                ' '
            ),
            '[":](\d{12})[":]',
            1
        ) AS principal_accounts
    FROM trust_changes
)

SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    actor,
    principal,
    target,
    array_join(
        array_sort(
            array_distinct(
                filter(
                    principal_accounts,
                    a -> a <> account_id AND NOT contains({{ lookup('known_accounts') }}, a)
                )
            )
        ),
        ', '
    ) AS external_accounts
FROM principals
WHERE
    cardinality(
        filter(
            principal_accounts,
            a -> a <> account_id AND NOT contains({{ lookup('known_accounts') }}, a)
        )
    ) > 0
