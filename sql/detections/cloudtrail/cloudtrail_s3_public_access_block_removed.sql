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
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutPublicAccessBlock.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutPublicAccessBlock.html
  - https://attack.mitre.org/techniques/T1562/007/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 's3.amazonaws.com'"
    reason: >-
      PutBucketPublicAccessBlock, DeleteBucketPublicAccessBlock,
      PutAccountPublicAccessBlock and DeleteAccountPublicAccessBlock are the
      names CloudTrail gives S3's and S3 Control's PutPublicAccessBlock and
      DeletePublicAccessBlock, logged by s3.amazonaws.com; no service model in
      botocore 1.43 has an operation of those names, and directory buckets
      (s3express) and S3 on Outposts have no Block Public Access operations
      (it is always on there), so the eventname conditions already imply the
      event source.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
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
    AND eventsource = 's3.amazonaws.com'
    AND errorcode IS NULL
    AND (
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
