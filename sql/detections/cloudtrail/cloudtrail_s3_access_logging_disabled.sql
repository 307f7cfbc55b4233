/*
id: cloudtrail_s3_access_logging_disabled
title: S3 server access logging disabled on a bucket
description: >-
  A successful PutBucketLogging without a LoggingEnabled element: the
  request body is an empty BucketLoggingStatus, which turns server access
  logging off for the bucket. Server access logs record every request to the
  bucket (including anonymous and data-plane reads CloudTrail management
  events do not show); turning them off hides collection and exfiltration
  from the bucket. Requests that enable logging or change its target are not
  reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Check the bucket now: `aws s3api get-bucket-logging --bucket <target>`
     (empty output = logging off) and find where it logged before: SELECT
     event_time, requestparameters FROM cloudtrail WHERE eventname =
     'PutBucketLogging' AND json_extract_scalar(requestparameters,
     '$.bucketName') = '<target>' ORDER BY event_time DESC.
  2. Look for access to the bucket after event_time in CloudTrail data
     events (GetObject / ListObjects), if enabled for the bucket.
  3. Ask the bucket owner for the change ticket (bucket decommissioning or
     moving to CloudTrail data events).
  4. If unplanned: re-enable logging (`aws s3api put-bucket-logging
     --bucket <target> --bucket-logging-status
     '{"LoggingEnabled":{"TargetBucket":"<log bucket>","TargetPrefix":"<target>/"}}'`)
     and contain the actor.
false_positives:
  - Bucket decommissioning, or a move from server access logs to
    CloudTrail S3 data events, under a change ticket.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLogging.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 's3.amazonaws.com'"
    reason: >-
      PutBucketLogging is an operation of S3 only per the AWS SDK service
      models (botocore 1.43): S3 Control has no such operation, and directory
      buckets (s3express.amazonaws.com) and S3 on Outposts do not support
      server access logging, so eventname = 'PutBucketLogging' already implies
      eventsource s3.amazonaws.com.
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
    AND eventname = 'PutBucketLogging'
    AND errorcode IS NULL
    AND NOT regexp_like(
        coalesce(requestparameters, ''), '"LoggingEnabled"\s*:\s*\{'
    )
