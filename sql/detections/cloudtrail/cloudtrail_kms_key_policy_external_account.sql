/*
id: cloudtrail_kms_key_policy_external_account
title: KMS key policy grants an unknown AWS account
description: >-
  A successful PutKeyPolicy, CreateKey or ReplicateKey whose key policy
  lets a specific AWS account outside the organization use or manage the
  key: an Allow statement's AWS principal names an account (a bare
  account id, or in an IAM/STS ARN such as arn:aws:iam::444455556666:root)
  that is neither the key's account nor on the reviewed list
  sql/lookups/known_accounts.yaml. With the key, that account can decrypt
  whatever it protects once it gets the ciphertext (snapshots shared to
  it, S3 objects, secrets), or, granted kms:PutKeyPolicy or
  kms:ScheduleKeyDeletion, hold the data to ransom. Key policies are read
  as cloudtrail_role_trust_external_account reads trust policies: Deny
  statements, service principals (logs.amazonaws.com ...) and digits in
  Conditions are not an account, and conditions are not evaluated (an
  attacker writes them too). A policy opened to "*" is public exposure,
  not a named account, and is not this rule's.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098
  - TA0010:T1537
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the account(s) in external_accounts: a new account of the
     organization (`aws organizations describe-account --account-id <id>`
     from the management account) or a reviewed vendor? Then it belongs in
     sql/lookups/known_accounts.yaml (a reviewed change), not in a
     suppression.
  2. Read the new policy (request_parameters) and the key's current one
     (`aws kms get-key-policy --key-id <target> --policy-name default`);
     note which actions the outside account got (kms:Decrypt,
     kms:CreateGrant, kms:PutKeyPolicy, kms:ScheduleKeyDeletion).
  3. Find what the key protects and whether it was used from outside
     since event_time: SELECT event_time, eventname,
     useridentity.accountid, sourceipaddress FROM cloudtrail WHERE
     eventsource = 'kms.amazonaws.com' AND requestparameters LIKE
     '%<target>%' AND dt >= '<day>' ORDER BY event_time.
  4. If unexplained: put the previous policy back (`aws kms put-key-policy
     --key-id <target> --policy-name default --policy file://policy.json`),
     revoke grants made to that account (`aws kms list-grants`, `aws kms
     revoke-grant`), contain the actor and open an incident.
false_positives:
  - A new account of the organization, or a newly contracted vendor that
    must decrypt shared data (log archive, backup, analytics), not yet on
    sql/lookups/known_accounts.yaml.
  - A key created for a one-off encrypted data exchange with a partner.
references:
  - https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html
  - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
  - https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
  - https://attack.mitre.org/techniques/T1098/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop policy_changes.where: eventsource = 'kms.amazonaws.com'"
    reason: >-
      PutKeyPolicy and ReplicateKey are operations of KMS only, and the other
      services with a CreateKey (Amazon Location Service, AWS Payment
      Cryptography) take no Policy in its request per the AWS SDK service
      models (botocore 1.43); without a policy no account can be found, so
      the event names and the policy the rule reads already imply
      eventsource kms.amazonaws.com.
  - mutant: "drop policy_changes.where: eventname IN ('PutKeyPolicy', 'CreateKey', 'ReplicateKey')"
    reason: >-
      An account can only be found in a request's policy, and per the AWS SDK
      service models (botocore 1.43) PutKeyPolicy, CreateKey and ReplicateKey
      are the only KMS operations whose request has a Policy (grants name
      their grantee in GranteePrincipal, not a policy), so eventsource
      kms.amazonaws.com with a policy already implies them.
*/
WITH policy_changes AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useridentity.type AS identity_type,
        useragent,
        requestparameters,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        coalesce(
            json_extract_scalar(requestparameters, '$.keyId'),
            json_extract_scalar(responseelements, '$.keyMetadata.keyId')
        ) AS target,
        json_extract_scalar(requestparameters, '$.policy') AS key_policy
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'kms.amazonaws.com'
        AND eventname IN ('PutKeyPolicy', 'CreateKey', 'ReplicateKey')
        AND errorcode IS NULL
),

-- The accounts named by the AWS principals of the Allow statements: the text after "Statement" is cut into its
-- top-level objects (a statement nests at most three deep: Condition, operator, key), and in each Allow
-- statement the "AWS" value is searched for 12 digits standing alone (a bare id) or between colons (an ARN).
-- Digits in a Condition value (kms:CallerAccount, aws:SourceAccount) or a resource are not an account.
principals AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
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
                            coalesce(regexp_extract(key_policy, '"Statement"\s*:\s*([\s\S]*)', 1), ''),
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
    FROM policy_changes
)

SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
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
