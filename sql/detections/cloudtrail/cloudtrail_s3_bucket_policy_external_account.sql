/*
id: cloudtrail_s3_bucket_policy_external_account
title: S3 bucket policy grants an unknown AWS account
description: >-
  A successful PutBucketPolicy whose policy lets a specific AWS account
  outside the organization in: an Allow statement's AWS principal names an
  account (a bare account id, or in an IAM/STS ARN such as
  arn:aws:iam::444455556666:root) that is neither the bucket's account nor
  on the reviewed list sql/lookups/known_accounts.yaml. Granting their own
  account read (or write) on a bucket is how attackers keep a quiet copy
  channel after the stolen keys are rotated: the data is then read from
  outside, by a caller this organization's CloudTrail never sees (an S3
  backdoor). cloudtrail_s3_bucket_made_public covers Principal "*"; this
  rule covers the named account that rule cannot judge. Deny statements,
  service principals (logging.s3.amazonaws.com ...) and canonical users
  are not reported, and conditions are not evaluated (an attacker writes
  them too). S3 on Outposts buckets are reachable only through access
  points inside their VPC and are left out.
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
     from the management account) or a vendor with a contract? Then it
     belongs in sql/lookups/known_accounts.yaml (a reviewed change), not in
     a suppression.
  2. Read the new policy (request_parameters) and the previous one
     (`aws s3api get-bucket-policy --bucket <target>` shows the current;
     AWS Config or the last PutBucketPolicy shows the one before).
  3. Look for reads from that account since event_time in the S3 server
     access logs: SELECT request_time, requester, operation, key,
     remote_ip FROM s3access WHERE bucket = '<target>' AND requester LIKE
     '%<external account>%' AND dt >= '<day>' ORDER BY request_time.
  4. If unexplained: restore the previous policy (`aws s3api
     put-bucket-policy --bucket <target> --policy file://policy.json` or
     delete-bucket-policy), contain the actor and open an incident.
false_positives:
  - A new account of the organization, or a newly contracted vendor (log
    archive, backup, analytics) not yet on sql/lookups/known_accounts.yaml.
  - Cross-account access granted on purpose for a one-off data exchange.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop policy_changes.where: eventname = 'PutBucketPolicy'"
    reason: >-
      Only a PutBucketPolicy request carries a bucketPolicy document (the
      other bucket calls, GetBucketPolicy and DeleteBucketPolicy included,
      have none), and without one no account can be found, so the event name
      is implied by the policy the rule reads.
*/
WITH policy_changes AS (
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
        json_extract_scalar(requestparameters, '$.bucketName') AS target,
        json_format(json_extract(requestparameters, '$.bucketPolicy')) AS bucket_policy
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource IN ('s3.amazonaws.com', 's3express.amazonaws.com')
        AND eventname = 'PutBucketPolicy'
        AND errorcode IS NULL
),

-- The accounts named by the AWS principals of the Allow statements, read as cloudtrail_role_trust_external_account
-- reads a trust policy: the text after "Statement" is cut into its top-level objects (a statement nests at most
-- three deep: Condition, operator, key), and in each Allow statement the "AWS" value is searched for 12 digits
-- standing alone (a bare id) or between colons (an ARN). Digits in a Condition value or a resource are not an
-- account.
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
                            coalesce(regexp_extract(bucket_policy, '"Statement"\s*:\s*([\s\S]*)', 1), ''),
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
