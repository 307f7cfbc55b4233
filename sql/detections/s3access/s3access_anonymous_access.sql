/*
id: s3access_anonymous_access
title: Successful anonymous S3 request
description: >-
  An unauthenticated request (requester '-') succeeded (status 2xx/3xx)
  through the S3 REST API: an object read or write, a HEAD, or a bucket
  listing. With Block Public Access on, every anonymous request is denied
  (403); a success means a bucket or object is public through its policy
  or ACL. Static-website endpoint requests (WEBSITE.* operations) and CORS
  preflights (REST.OPTIONS.PREFLIGHT) are left out, as they are public by
  design. Buckets that deliberately serve public content over the REST
  endpoint are the suppression point: add them to a bucket_name NOT IN
  list in this rule.
severity: high
status: stable
log_source: s3access
mitre:
  - TA0009:T1530
  - TA0005:T1562
dedup:
  keys: [account_id, bucket_name, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. See what was accessed anonymously: SELECT event_time, remoteip,
     operation, key, httpstatus, bytessent, useragent FROM s3access
     WHERE bucket_name = '<bucket_name>' AND requester IS NULL
     AND httpstatus < 400 AND dt = '<day>' ORDER BY event_time.
  2. Find why it is public: `aws s3api get-public-access-block --bucket
     <bucket_name>`, `aws s3api get-bucket-policy-status --bucket
     <bucket_name>`, `aws s3api get-bucket-policy` and the object ACL
     (`aws s3api get-object-acl`); CloudTrail PutBucketPolicy /
     PutBucketAcl / DeletePublicAccessBlock shows who changed it.
  3. If not intended: turn Block Public Access on for the bucket (and the
     account), remove the public statement/ACL, and assess the exposure of
     the objects read (bytessent) — a data incident if they are sensitive.
false_positives:
  - Buckets intentionally public over the REST endpoint (downloads,
    public datasets, assets without CloudFront); list them in the rule.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
  - https://attack.mitre.org/techniques/T1530/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: httpstatus >= 200"
    reason: >-
      S3 logs the final status of each response and never answers a REST
      request with a final 1xx (100 Continue is only an interim reply to
      Expect: 100-continue, followed by the logged final status); a NULL
      status already fails httpstatus < 400. So every row kept by the
      other conditions has a status of 200 or more.
  - mutant: "threshold main.where: httpstatus >= 200 (-1)"
    reason: >-
      Differs only for status 199, which is not an HTTP status code and is
      never returned by S3 (see the 1xx reason above).
  - mutant: "threshold main.where: httpstatus < 400 (-1)"
    reason: >-
      Differs only for status 399, which is not an HTTP status code; S3
      answers with standard codes only (its 3xx are 301, 304 and 307).
      The 400 side of the boundary is pinned by
      negative/anonymous_bad_request_400_on_public_bucket.log.
*/
SELECT
    event_time,
    account_id,
    remoteip AS source_ip,
    operation AS event_name,
    bucket_name,
    key,
    httpstatus,
    bytessent,
    useragent,
    referrer,
    requestid,
    'anonymous' AS actor
FROM s3access
WHERE
    {{ window() }}
    AND requester IS NULL
    AND operation LIKE 'REST.%'
    AND operation <> 'REST.OPTIONS.PREFLIGHT'
    AND httpstatus >= 200
    AND httpstatus < 400
