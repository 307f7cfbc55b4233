/*
id: s3access_bulk_object_download
title: Bulk object download by one requester from one address
description: >-
  Fifty or more successful GetObject requests (REST.GET.OBJECT, status 200
  or 206) by the same requester from the same remote address, across the
  buckets of one account, within an aligned hour. A stolen key used to
  empty a bucket looks like this: list, then download everything within
  minutes. The hour (not 15 minutes) is deliberate: aligned 15-minute
  buckets would split a five-minute burst that crosses a quarter hour into
  two halves below the threshold. Applications read far more objects, but
  their requests spread over many instance addresses behind the VPC
  endpoint; a batch job on one fixed address will hit and is suppressed by
  requester. Anonymous requests are grouped under "anonymous".
severity: high
status: stable
log_source: s3access
mitre:
  - TA0009:T1530
  - TA0010:T1567.002
dedup:
  keys: [account_id, actor, source_ip]
  period: 1h
threshold: 50
runbook: |-
  1. Scope the download: SELECT bucket_name, count(*) AS objects,
     sum(bytessent) AS bytes, min(event_time) AS first,
     max(event_time) AS last FROM s3access WHERE requester = '<actor>'
     AND remoteip = '<source_ip>' AND dt = '<day>'
     AND operation = 'REST.GET.OBJECT' GROUP BY bucket_name; list the keys
     to know which data left.
  2. Is it expected? The requester's owner (role or user), its usual
     addresses and user agent; a human user from an internet address with
     the AWS CLI against a sensitive bucket is the classic exfiltration.
  3. Pivot in CloudTrail on the access key / user (CreateAccessKey,
     ConsoleLogin, ListBuckets before the download) and on source_ip.
  4. Contain: deactivate the access key (`aws iam update-access-key
     --user-name <user> --access-key-id <AKIA...> --status Inactive`) or
     revoke the role's sessions, add a bucket policy deny for the source,
     and start the data-breach process for the objects listed in step 1.
false_positives:
  - Data pipelines, backups and migrations that read a bucket from one
    fixed address (NAT gateway, on-premises job); suppress by requester.
  - A person syncing a prefix with `aws s3 sync` for legitimate work.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
  - https://attack.mitre.org/techniques/T1530/
owner: security-engineering
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
    requestid,
    coalesce(requester, 'anonymous') AS actor
FROM s3access
WHERE
    {{ window() }}
    AND operation = 'REST.GET.OBJECT'
    AND httpstatus IN (200, 206)
