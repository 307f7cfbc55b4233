/*
id: cloudtrail_s3_versioning_suspended
title: S3 bucket versioning suspended or MFA delete disabled
description: >-
  A successful PutBucketVersioning suspended versioning
  (VersioningConfiguration Status = Suspended) or turned MFA delete off
  (MfaDelete = Disabled). With versioning suspended, overwrites and deletes
  destroy data instead of keeping previous versions; with MFA delete off,
  versions can be permanently deleted without the root MFA device. Both are
  typical preparation for ransomware or destruction of S3 data. Re-enabling
  versioning with MfaDelete omitted is not reported; a request that
  restates MfaDelete = Disabled on a bucket that never had MFA delete is
  (CloudTrail does not record the previous state). Covers general purpose
  buckets (s3.amazonaws.com) and S3 on Outposts buckets, whose versioning is
  set through S3 Control (s3-outposts.amazonaws.com); directory buckets have
  no versioning.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1490
  - TA0040:T1485
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Check the bucket now: `aws s3api get-bucket-versioning --bucket
     <target>` (Status, MFADelete) and request_parameters for what the
     request set; for an Outposts bucket (event_source
     s3-outposts.amazonaws.com) `aws s3control get-bucket-versioning
     --account-id <account_id> --bucket <bucket ARN>`.
  2. Look for destruction that follows: DeleteObject / PutObject data
     events or S3 server access logs for the bucket after event_time, and
     lifecycle changes (cloudtrail_s3_data_protection_tampering alerts).
  3. Ask the bucket owner for the change ticket (suspending versioning to
     cut storage cost on scratch buckets is the usual legitimate reason).
  4. If unplanned: re-enable versioning (`aws s3api put-bucket-versioning
     --bucket <target> --versioning-configuration Status=Enabled`), turn MFA
     delete back on with the root MFA device if it was used, restore
     deleted objects from noncurrent versions or backups, and contain the
     actor.
false_positives:
  - Versioning suspended on scratch, cache or log buckets to save cost.
  - Infrastructure-as-code that always sends MfaDelete = Disabled with the
    versioning configuration.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiFactorAuthenticationDelete.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketVersioning.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutBucketVersioning.html
  - https://attack.mitre.org/techniques/T1490/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource IN ('s3.amazonaws.com', 's3-outposts.amazonaws.com')"
    reason: >-
      PutBucketVersioning exists only in S3 and in S3 Control per the AWS SDK
      service models (botocore 1.43); S3 Control's applies to Outposts buckets
      and is logged as s3-outposts.amazonaws.com, and directory buckets
      (s3express) do not support versioning, so every service that has the
      operation is in the list.
  - mutant: "drop main.where: eventname = 'PutBucketVersioning'"
    reason: >-
      The other conditions need a VersioningConfiguration Status or an
      MfaDelete value in the request: among S3 and S3 Control operations only
      PutBucketVersioning takes a VersioningConfiguration (MfaDelete is a
      member of it; GetBucketVersioning returns it in the response, which the
      rule does not read), so no other event can pass them.
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
    json_extract_scalar(
        requestparameters, '$.VersioningConfiguration.Status'
    ) AS versioning_status
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource IN ('s3.amazonaws.com', 's3-outposts.amazonaws.com')
    AND eventname = 'PutBucketVersioning'
    AND errorcode IS NULL
    AND (
        lower(
            json_extract_scalar(requestparameters, '$.VersioningConfiguration.Status')
        ) = 'suspended'
        OR regexp_like(lower(requestparameters), '"mfa_?delete"\s*:\s*"disabled"')
    )
