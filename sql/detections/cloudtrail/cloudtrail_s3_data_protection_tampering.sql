/*
id: cloudtrail_s3_data_protection_tampering
title: S3 lifecycle, replication or encryption tampering
description: >-
  A bucket's data protection was changed in a way used for destruction,
  exfiltration or ransom: a lifecycle configuration (PutBucketLifecycle,
  which CloudTrail also uses for PutBucketLifecycleConfiguration) with an
  Expiration of 7 days or less, which deletes current objects within a
  week; a replication configuration (PutBucketReplication), which copies
  new objects to another bucket, possibly in another account (CloudTrail
  only names the destination account when the request sets
  Destination.Account, so every replication change is reported and the
  destination is returned); default encryption removed
  (DeleteBucketEncryption, back to SSE-S3); or default encryption set to a
  KMS key of another account (PutBucketEncryption with a KMSMasterKeyID ARN
  whose account differs from the bucket's), the S3 ransomware pattern.
  Covers general purpose buckets (s3.amazonaws.com), S3 on Outposts
  buckets, whose replication and lifecycle are set through S3 Control
  (s3-outposts.amazonaws.com), and directory buckets, whose default
  encryption calls are logged as s3express.amazonaws.com.
  Limitations: lifecycle rules are matched with a regular expression, so a
  short Expiration in a rule with Status Disabled is also reported;
  NoncurrentVersionExpiration and AbortIncompleteMultipartUpload are not.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0040:T1486
  - TA0010:T1537
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters (and destination): the lifecycle rules and
     their Filter (a bucket-wide 1-day Expiration is the worst case), the
     replication Destination.Bucket / Account and Role, or the KMS key ARN.
  2. Check the bucket now: `aws s3api get-bucket-lifecycle-configuration
     --bucket <target>`, `aws s3api get-bucket-replication --bucket
     <target>`, `aws s3api get-bucket-encryption --bucket <target>` (for
     an Outposts bucket, event_source s3-outposts.amazonaws.com, the `aws
     s3control get-bucket-*` commands with --account-id and the bucket
     ARN); for a replication destination, check whether the bucket belongs
     to one of your accounts (organization account list).
  3. Ask the bucket owner for the change ticket (retention for scratch
     buckets, disaster-recovery replication, key rotation).
  4. If unplanned: remove the change (`aws s3api
     delete-bucket-lifecycle --bucket <target>`, `aws s3api
     delete-bucket-replication --bucket <target>`, `aws s3api
     put-bucket-encryption ...` with your key), check versioning is on so
     expired objects can be restored, review what was replicated or
     encrypted since event_time, and contain the actor.
false_positives:
  - Short retention on scratch, temporary or log buckets (for example
    Athena query results or CI artifacts).
  - Disaster-recovery or analytics replication to your own buckets.
  - Removing a customer-managed key configuration to fall back to SSE-S3.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketReplication.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketEncryption.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-one-zone-logging.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutBucketReplication.html
  - https://attack.mitre.org/techniques/T1485/
  - https://attack.mitre.org/techniques/T1486/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource IN ('s3.amazonaws.com', 's3-outposts.amazonaws.com', 's3express.amazonaws.com')"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) PutBucketReplication and
      PutBucketLifecycleConfiguration exist only in S3 and S3 Control (S3
      Control's apply to Outposts buckets, logged as
      s3-outposts.amazonaws.com), and PutBucketLifecycle, PutBucketEncryption
      and DeleteBucketEncryption only in S3 (logged as s3express.amazonaws.com
      for directory buckets); every source that can log these names is in the
      list.
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
    json_extract_scalar(requestparameters, '$.bucketName') AS target,
    coalesce(
        json_extract_scalar(
            requestparameters, '$.ReplicationConfiguration.Rule.Destination.Bucket'
        ),
        json_extract_scalar(
            requestparameters, '$.ReplicationConfiguration.Rule[0].Destination.Bucket'
        ),
        json_extract_scalar(
            requestparameters,
            '$.ServerSideEncryptionConfiguration.Rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID'
        ),
        json_extract_scalar(
            requestparameters,
            '$.ServerSideEncryptionConfiguration.Rule[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID'
        )
    ) AS destination
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource IN (
        's3.amazonaws.com', 's3-outposts.amazonaws.com', 's3express.amazonaws.com'
    )
    AND errorcode IS NULL
    AND (
        eventname IN ('PutBucketReplication', 'DeleteBucketEncryption')
        OR (
            eventname IN (
                'PutBucketLifecycle', 'PutBucketLifecycleConfiguration'
            )
            AND regexp_like(
                requestparameters,
                '"Expiration"\s*:\s*\{[^{}]*"Days"\s*:\s*"?0*[0-7]"?\s*[,}]'
            )
        )
        OR (
            eventname = 'PutBucketEncryption'
            AND regexp_like(
                requestparameters,
                '"KMSMasterKeyID"\s*:\s*"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:'
            )
            AND NOT regexp_like(
                requestparameters,
                '"KMSMasterKeyID"\s*:\s*"arn:aws[a-z-]*:kms:[a-z0-9-]+:'
                || account_id || ':'
            )
        )
    )
