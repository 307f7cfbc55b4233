/*
id: cloudtrail_s3_sse_c_encryption
title: S3 objects written with customer-provided keys by a principal new to SSE-C
description: >-
  A principal wrote S3 objects encrypted with a customer-provided key
  (SSE-C: PutObject, CopyObject, CreateMultipartUpload or UploadPart with
  the x-amz-server-side-encryption-customer-algorithm header, which
  CloudTrail data events record; the key itself never is) and had written
  none that way in the 14 days before the run's window (first-seen rule).
  This is how S3 ransomware works without any malware: the attacker copies
  each object over itself with a key only the attacker holds, and AWS
  cannot decrypt it for anyone else (the Codefinger campaign, often
  followed by a lifecycle rule that deletes the objects within days).
  Attempts are reported whatever their outcome (a bucket policy that denies
  SSE-C writes turns the attack into AccessDenied), while the baseline
  counts successful SSE-C writes only, so the few applications that use
  SSE-C on purpose are in it and an attacker's denied attempts never are.
  Needs CloudTrail data events for S3 (write events) on the buckets that
  matter. Any event source counts (S3 and S3 on Outposts alike: only
  their object writes carry the header). Role sessions are compared by
  their role, users and root by their ARN, per account (a principal of
  another account writing SSE-C objects into this one is new here, however
  routine at home); one alert covers a principal's writes in an hour.
severity: critical
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1486
lookback: 14d
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Count what was rewritten, per bucket: SELECT
     json_extract_scalar(requestparameters, '$.bucketName') AS bucket,
     count(*) AS writes, count_if(errorcode IS NULL) AS succeeded,
     min(event_time), max(event_time) FROM cloudtrail WHERE eventsource =
     's3.amazonaws.com' AND json_extract_scalar(requestparameters,
     '$["x-amz-server-side-encryption-customer-algorithm"]') IS NOT NULL AND
     coalesce(useridentity.sessioncontext.sessionissuer.arn,
     useridentity.arn) = '<principal>' AND dt = '<day>' GROUP BY 1.
  2. Contain the principal at once (deactivate keys, revoke role
     sessions): every minute rewrites more objects.
  3. Look for a lifecycle rule added to those buckets
     (PutBucketLifecycleConfiguration) and remove it; check whether
     versioning kept the previous versions (`aws s3api list-object-versions`)
     and restore them.
  4. Block SSE-C where no one needs it (a bucket policy denying
     s3:PutObject with the x-amz-server-side-encryption-customer-algorithm
     header, or the bucket's encryption configuration blocking SSE-C).
false_positives:
  - An application adopting SSE-C for the first time, or moved to a new
    role.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html
  - https://www.halcyon.ai/blog/abusing-aws-native-services-ransomware-encrypting-s3-buckets-with-sse-c
  - https://attack.mitre.org/techniques/T1486/
owner: security-engineering
*/
WITH seen AS (
    SELECT DISTINCT
        account_id,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS principal
    FROM cloudtrail
    WHERE
        {{ lookback() }}
        AND eventname IN (
            'PutObject', 'CopyObject', 'CreateMultipartUpload', 'UploadPart'
        )
        AND json_extract_scalar(
            requestparameters,
            '$["x-amz-server-side-encryption-customer-algorithm"]'
        ) IS NOT NULL
        AND errorcode IS NULL
),

attempts AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        errorcode,
        eventid,
        useridentity.type AS identity_type,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS principal,
        json_extract_scalar(requestparameters, '$.bucketName') AS target,
        json_extract_scalar(requestparameters, '$.key') AS object_key
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventname IN (
            'PutObject', 'CopyObject', 'CreateMultipartUpload', 'UploadPart'
        )
        AND json_extract_scalar(
            requestparameters,
            '$["x-amz-server-side-encryption-customer-algorithm"]'
        ) IS NOT NULL
)

SELECT
    r.event_time,
    r.account_id,
    r.sourceipaddress AS source_ip,
    r.eventname AS event_name,
    r.awsregion AS aws_region,
    r.useragent AS user_agent,
    r.errorcode AS error_code,
    r.eventid AS event_id,
    r.identity_type,
    r.actor,
    r.principal,
    r.target,
    r.object_key
FROM attempts AS r
LEFT JOIN seen AS s
    ON
        r.account_id = s.account_id
        AND r.principal = s.principal
WHERE s.principal IS NULL
