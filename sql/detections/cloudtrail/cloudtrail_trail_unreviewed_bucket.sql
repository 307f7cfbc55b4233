/*
id: cloudtrail_trail_unreviewed_bucket
title: CloudTrail trail set to deliver to an unreviewed bucket (shadow trail)
description: >-
  A CreateTrail or UpdateTrail whose s3BucketName is not on the reviewed
  list sql/lookups/trail_buckets.yaml (the organization's log archive
  buckets), denied and failed attempts included. A new trail delivering to
  a bucket the attacker reads (often in their own account) is a shadow
  trail: it hands them a copy of every API call the account makes, so
  they see what defenders see, and a trail updated to a new bucket takes
  the logs away from this pipeline. CloudTrail records the bucket's name
  but never its owner, so the reviewed list names buckets. The attempt is
  the signal: CreateTrail fails with InsufficientS3BucketPolicyException
  until the attacker's bucket policy admits CloudTrail, and nobody
  legitimately probes trail creation with a denied key. UpdateTrail calls
  that leave the bucket unchanged (log file validation, SNS, KMS key) are
  not reported here (cloudtrail_trail_stopped_or_changed reports every
  successful UpdateTrail).
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
  - TA0010:T1537
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read delivery_bucket and error_code: whose bucket is it (`aws s3api
     get-bucket-policy --bucket <delivery_bucket>` from the organization's accounts
     fails if it is not yours; `aws s3api head-bucket --bucket <delivery_bucket>
     --expected-bucket-owner <your account>` tells), and did the call
     succeed?
  2. If it succeeded, check the trail now: `aws cloudtrail describe-trails
     --trail-name-list <target>` and `aws cloudtrail get-trail-status
     --name <target>` (a created trail logs only after StartLogging; look
     for it from the same actor).
  3. A reviewed destination (a new log archive bucket of the organization)
     belongs in sql/lookups/trail_buckets.yaml, a reviewed change, not in a
     suppression.
  4. If unexplained: delete the shadow trail (`aws cloudtrail delete-trail
     --name <target>`) or point it back at the archive bucket, treat the
     account's API history since event_time as known to the attacker,
     contain the actor and protect trails with an SCP denying
     cloudtrail:CreateTrail and UpdateTrail outside the admin role.
false_positives:
  - A new log archive bucket or a second trail for a reviewed SIEM, before
    sql/lookups/trail_buckets.yaml lists it.
  - Sandbox accounts where engineers create trails to their own buckets.
references:
  - https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_UpdateTrail.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'cloudtrail.amazonaws.com'"
    reason: >-
      CreateTrail and UpdateTrail are operations of CloudTrail only per the
      AWS SDK service models (botocore 1.43), so the eventname list already
      implies eventsource cloudtrail.amazonaws.com.
  - mutant: "drop main.where: eventname IN ('CreateTrail', 'UpdateTrail')"
    reason: >-
      The rule reports a request naming an s3BucketName, and per the AWS SDK
      service models (botocore 1.43) CreateTrail and UpdateTrail are the only
      CloudTrail operations whose request has S3BucketName (CloudTrail Lake
      imports and queries name S3 locations in nested or differently named
      fields), so eventsource cloudtrail.amazonaws.com with a top-level
      s3BucketName already implies them. Without a bucket the lookup test is
      NULL and nothing is reported.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.name') AS target,
    json_extract_scalar(requestparameters, '$.s3BucketName') AS delivery_bucket
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'cloudtrail.amazonaws.com'
    AND eventname IN ('CreateTrail', 'UpdateTrail')
    -- An UpdateTrail that names no bucket leaves the destination as it was: contains(..., NULL) is NULL on
    -- both engines, so such a call is not reported.
    AND NOT contains(
        {{ lookup('trail_buckets') }},
        lower(json_extract_scalar(requestparameters, '$.s3BucketName'))
    )
