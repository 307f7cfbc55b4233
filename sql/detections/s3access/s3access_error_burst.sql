/*
id: s3access_error_burst
title: Burst of S3 client errors from one address
description: >-
  Twenty-five or more S3 requests from one remote address answered with a
  4xx error (AccessDenied, NoSuchKey, NoSuchBucket, InvalidAccessKeyId,
  SignatureDoesNotMatch...) within an aligned 15-minute bucket, across the
  buckets of one account and whatever the requester (signed or anonymous).
  Bucket and key enumeration, guessing object names, and trying stolen or
  expired credentials all produce error streams; ordinary clients see an
  occasional 404. Requests without a remote address (S3's own lifecycle
  actions) are ignored. 5xx errors (SlowDown, InternalError) are S3-side
  and not counted.
severity: medium
status: stable
log_source: s3access
mitre:
  - TA0007:T1619
  - TA0006:T1110
dedup:
  keys: [account_id, source_ip]
  period: 15m
threshold: 25
runbook: |-
  1. Break the errors down: SELECT requester, bucket_name, operation,
     httpstatus, errorcode, count(*) AS n FROM s3access
     WHERE remoteip = '<source_ip>' AND dt = '<day>'
     GROUP BY 1, 2, 3, 4, 5 ORDER BY n DESC; sample key and useragent.
  2. AccessDenied / NoSuchKey on many guessed keys = enumeration;
     InvalidAccessKeyId / SignatureDoesNotMatch = someone trying keys;
     one key failing in a loop = a broken client.
  3. Check whether the address also succeeded (2xx) on the same buckets
     and whether it is a known application, NAT gateway or partner.
  4. If hostile: deny the address in the bucket policy (aws:SourceIp),
     confirm Block Public Access is on (`aws s3api
     get-public-access-block --bucket <bucket>`), and if a real access key
     was tried, find and rotate it.
false_positives:
  - Applications whose role lost a permission or that look up keys that do
    not exist yet (cache misses), from one NAT address.
  - Security scanners checking buckets for public access.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
  - https://attack.mitre.org/techniques/T1619/
owner: security-engineering
equivalent_mutants:
  - mutant: "threshold main.where: httpstatus >= 400 (-1)"
    reason: >-
      It only adds status 399, which HTTP does not define and S3 never
      answers: its REST responses below 400 are 200, 204, 206, 301, 304 and
      307 (S3 API Reference, Error responses), all excluded by both.
  - mutant: "threshold main.where: httpstatus < 500 (-1)"
    reason: >-
      It only removes status 499, which S3 never answers: the 4xx codes of
      its error list (S3 API Reference, List of error codes) are 400, 403,
      404, 405, 409, 411, 412 and 416, all counted by both.
*/
SELECT
    event_time,
    account_id,
    remoteip AS source_ip,
    operation AS event_name,
    bucket_name,
    key,
    httpstatus,
    errorcode,
    useragent,
    requestid,
    coalesce(requester, 'anonymous') AS actor
FROM s3access
WHERE
    {{ window() }}
    AND httpstatus >= 400
    AND httpstatus < 500
    AND remoteip IS NOT NULL
