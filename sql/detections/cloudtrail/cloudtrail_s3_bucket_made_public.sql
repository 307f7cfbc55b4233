/*
id: cloudtrail_s3_bucket_made_public
title: S3 bucket made public by ACL or bucket policy
description: >-
  An S3 bucket was opened to everyone. ACL variant: a successful PutBucketAcl
  (or CreateBucket) that grants the AllUsers or AuthenticatedUsers group
  (any AWS account) through an ACL body or x-amz-grant-* header, or sets a
  canned ACL public-read, public-read-write or authenticated-read. Policy
  variant: a successful PutBucketPolicy with an Allow statement whose
  Principal is "*", {"AWS": "*"} or {"AWS": [..., "*"]}, reported when that
  statement has no Condition at all, or when the policy contains none of
  the condition keys that scope such a grant to your own network or
  organization (aws:PrincipalOrgID, aws:PrincipalOrgPaths,
  aws:PrincipalAccount, aws:SourceVpce, aws:SourceVpc). Deny statements with
  Principal "*" (for example enforcing TLS) are not reported. Limitation:
  statements are matched with a regular expression over the policy JSON
  (nesting up to Condition operator level); a public Allow statement that
  has some other condition (for example aws:SourceIp) is missed when
  another statement of the same policy uses one of the scoping keys.
  Covers general purpose buckets and directory buckets (S3 Express One
  Zone, event source s3express.amazonaws.com: their Block Public Access
  is always on, so only a policy scoped by a key such as aws:SourceIp gets
  through, and it is reported like the same policy on a general purpose
  bucket). S3 on Outposts buckets (s3-outposts.amazonaws.com) are not
  reported: they are reachable only through access points inside a VPC.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0009:T1530
  - TA0010:T1537
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: the grants (AccessControlPolicy, x-amz-acl,
     x-amz-grant-*) or bucketPolicy statements, and which actions are
     allowed to everyone (s3:GetObject = public read, s3:PutObject or s3:*
     = public write).
  2. Confirm the exposure: `aws s3api get-bucket-policy-status --bucket
     <target>` (IsPublic), `aws s3api get-bucket-acl --bucket <target>`,
     `aws s3api get-public-access-block --bucket <target>` and the
     account-level block (`aws s3control get-public-access-block
     --account-id <account_id>`). For a directory bucket (event_source
     s3express.amazonaws.com) read the policy with `aws s3api
     get-bucket-policy --bucket <target>`: the exposure is whatever its
     condition (aws:SourceIp ...) lets in, for s3express:CreateSession.
  3. Ask the bucket owner whether public access is intended (static
     website, public datasets) and approved.
  4. If not: remove it (`aws s3api delete-bucket-policy --bucket <target>`
     or `aws s3api put-bucket-acl --bucket <target> --acl private`), turn on
     Block Public Access (`aws s3api put-public-access-block --bucket
     <target> --public-access-block-configuration
     BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`),
     then review S3 server access logs / data events for anonymous or
     foreign reads since event_time, and contain the actor.
false_positives:
  - Intentionally public buckets (static websites, public downloads or
    datasets) configured by their owners.
  - Principal "*" restricted by a condition other than the scoping keys
    (for example aws:SourceIp of a corporate range or aws:SecureTransport).
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-one-zone-logging.html
  - https://attack.mitre.org/techniques/T1530/
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    eventsource AS event_source,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.bucketName') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource IN ('s3.amazonaws.com', 's3express.amazonaws.com')
    AND errorcode IS NULL
    AND (
        (
            eventname IN ('PutBucketAcl', 'CreateBucket')
            AND (
                regexp_like(
                    requestparameters,
                    'acs\.amazonaws\.com/groups/global/(AllUsers|AuthenticatedUsers)'
                )
                OR regexp_like(
                    lower(requestparameters),
                    '"x-amz-acl"\s*:\s*\[?\s*"(public-read|public-read-write|authenticated-read)"'
                )
            )
        )
        OR (
            eventname = 'PutBucketPolicy'
            AND (
                -- an Allow statement with a public Principal and no Condition object
                regexp_like(
                    requestparameters,
                    '\{[^{}]*(?:"Effect"\s*:\s*"Allow"[^{}]*"Principal"\s*:\s*'
                    || '(?:"\*"|\{[^{}]*"AWS"\s*:\s*(?:"\*"|\[[^\]]*"\*")[^{}]*\})'
                    || '|"Principal"\s*:\s*(?:"\*"|\{[^{}]*"AWS"\s*:\s*(?:"\*"|\[[^\]]*"\*")[^{}]*\})'
                    || '[^{}]*"Effect"\s*:\s*"Allow")[^{}]*\}'
                )
                OR (
                    -- an Allow statement with a public Principal and any Condition
                    regexp_like(
                        requestparameters,
                        '\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*'
                        || '(?:"Effect"\s*:\s*"Allow"(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*'
                        || '"Principal"\s*:\s*(?:"\*"|\{[^{}]*"AWS"\s*:\s*(?:"\*"|\[[^\]]*"\*")[^{}]*\})'
                        || '|"Principal"\s*:\s*(?:"\*"|\{[^{}]*"AWS"\s*:\s*(?:"\*"|\[[^\]]*"\*")[^{}]*\})'
                        || '(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*"Effect"\s*:\s*"Allow")'
                        || '(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}'
                    )
                    AND NOT regexp_like(
                        lower(requestparameters),
                        'aws:(principalorgid|principalorgpaths|principalaccount|sourcevpce|sourcevpc)"'
                    )
                )
            )
        )
    )
