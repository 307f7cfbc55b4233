/*
id: s3_objects_read_by_ip
title: S3 objects read by one IP address
description: >-
  Every object one IP address read (GET, or the read side of a COPY)
  according to S3 server access logs, with request counts, bytes sent and
  the requesters it used: the blast radius of a leaked key or an open
  bucket, per object.
default_range: 7d
parameters:
  ip:
    type: ip
    description: the client IP (S3 access log remoteip)
  limit:
    type: int
    description: objects returned at most
    default: 500
    min: 1
    max: 1000000
mitre:
  - TA0009
  - TA0010
owner: security-engineering
*/
SELECT
    bucket_name,
    key,
    count(*) AS requests,
    sum(bytessent) AS bytes_sent,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    array_join(array_sort(array_agg(DISTINCT requester)), ',') AS requesters,
    array_join(array_sort(array_agg(DISTINCT cast(httpstatus AS VARCHAR))), ',') AS statuses
FROM s3access
WHERE
    {{ window() }}
    AND remoteip = {{ param('ip') }}
    AND operation IN ('REST.GET.OBJECT', 'REST.COPY.OBJECT_GET')
    AND key IS NOT NULL
GROUP BY bucket_name, key
ORDER BY bytes_sent DESC, requests DESC, bucket_name ASC, key ASC
LIMIT {{ param('limit') }}
