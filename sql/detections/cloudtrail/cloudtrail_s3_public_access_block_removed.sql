/*
id: cloudtrail_s3_public_access_block_removed
title: S3 Block Public Access removed or weakened
description: >-
  S3 Block Public Access was removed or weakened for a bucket or for the
  whole account: a successful DeleteBucketPublicAccessBlock or
  DeleteAccountPublicAccessBlock, or a PutBucketPublicAccessBlock /
  PutAccountPublicAccessBlock whose configuration leaves any of
  BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy or
  RestrictPublicBuckets not true (a setting omitted from the request is
  false, as in the API). Block Public Access is the guard rail that stops
  public ACLs and bucket policies; removing it is the usual step before
  making a bucket public for exfiltration or staging.
  A DeleteBucketPublicAccessBlock followed within 10 minutes by a
  successful DeleteBucket of the same bucket by the same principal is not
  reported: that is how Terraform destroys an
  aws_s3_bucket_public_access_block and its bucket, and a bucket that is
  gone exposes nothing. The exemption needs the bucket deletion, not a
  principal, so a stolen pipeline role that only removes the block still
  alerts. Limit: both calls must be in the evaluated window, so a destroy
  split by a window edge (seconds apart at a 5-minute cadence: rare) still
  alerts.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.007
  - TA0009:T1530
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Scope: target is the bucket (empty for the account-level block, which
     affects every bucket). request_parameters shows which of the four
     settings are now false.
  2. Check the current settings: `aws s3api get-public-access-block
     --bucket <target>` or `aws s3control get-public-access-block
     --account-id <account_id>`; then which buckets are now public: `aws
     s3api get-bucket-policy-status --bucket <bucket>` and IAM Access
     Analyzer findings for S3.
  3. Look for the follow-up: PutBucketPolicy / PutBucketAcl by the same
     actor after event_time (cloudtrail_s3_bucket_made_public alerts).
  4. Ask the bucket owner for the change ticket (public websites and
     datasets are the legitimate reasons, and should be bucket-level only).
  5. If unplanned: restore the block (`aws s3api put-public-access-block
     --bucket <target> --public-access-block-configuration
     BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`
     or the s3control equivalent), and contain the actor.
false_positives:
  - Buckets that are intentionally public (static websites, public
    downloads) having their bucket-level block relaxed by their owners.
  - A Terraform destroy (block, then bucket, seconds apart) whose two calls
    fall either side of a run-window edge.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutPublicAccessBlock.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutPublicAccessBlock.html
  - https://attack.mitre.org/techniques/T1562/007/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop s3_calls.where: eventname IN ('DeleteBucketPublicAccessBlock', 'DeleteAccountPublicAccessBlock', 'PutBucketPublicAccessBlock', 'PutAc..."
    reason: >-
      It only narrows the scan (S3 data events are most of s3.amazonaws.com):
      removed selects its own event names again, and the bucket deletion in
      NOT EXISTS names DeleteBucket, so no row either side reads changes.
*/
WITH s3_calls AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        requestparameters,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        json_extract_scalar(requestparameters, '$.bucketName') AS bucket_name
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 's3.amazonaws.com'
        AND errorcode IS NULL
        AND eventname IN (
            'DeleteBucketPublicAccessBlock',
            'DeleteAccountPublicAccessBlock',
            'PutBucketPublicAccessBlock',
            'PutAccountPublicAccessBlock',
            'DeleteBucket'
        )
),

removed AS (
    SELECT *
    FROM s3_calls
    WHERE
        eventname IN (
            'DeleteBucketPublicAccessBlock', 'DeleteAccountPublicAccessBlock'
        )
        OR (
            eventname IN (
                'PutBucketPublicAccessBlock', 'PutAccountPublicAccessBlock'
            )
            AND (
                coalesce(lower(json_extract_scalar(
                    requestparameters,
                    '$.PublicAccessBlockConfiguration.BlockPublicAcls'
                )), 'false') != 'true'
                OR coalesce(lower(json_extract_scalar(
                    requestparameters,
                    '$.PublicAccessBlockConfiguration.IgnorePublicAcls'
                )), 'false') != 'true'
                OR coalesce(lower(json_extract_scalar(
                    requestparameters,
                    '$.PublicAccessBlockConfiguration.BlockPublicPolicy'
                )), 'false') != 'true'
                OR coalesce(lower(json_extract_scalar(
                    requestparameters,
                    '$.PublicAccessBlockConfiguration.RestrictPublicBuckets'
                )), 'false') != 'true'
            )
        )
)

SELECT
    r.event_time,
    r.account_id,
    r.sourceipaddress AS source_ip,
    r.eventname AS event_name,
    r.awsregion AS aws_region,
    r.useragent AS user_agent,
    r.requestparameters AS request_parameters,
    r.eventid AS event_id,
    r.actor,
    r.principal,
    r.bucket_name AS target
FROM removed AS r
WHERE NOT EXISTS (
    -- Terraform's destroy: the block, then (seconds later) the empty bucket.
    SELECT 1
    FROM s3_calls AS d
    WHERE
        r.eventname = 'DeleteBucketPublicAccessBlock'
        AND d.eventname = 'DeleteBucket'
        AND d.principal = r.principal
        AND d.bucket_name = r.bucket_name
        AND d.event_time >= r.event_time
        AND d.event_time <= r.event_time + INTERVAL '10' MINUTE
)
