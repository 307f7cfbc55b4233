/*
id: principal_timeline
title: Activity timeline of one principal
description: >-
  Every CloudTrail API call and S3 server access request made by one
  principal, in time order: what they did, from which IPs, with which
  user agents and errors. The principal is matched exactly against the
  CloudTrail identity (ARN, principal id or user name) and the S3
  requester, so paste the ARN from an alert.
default_range: 24h
parameters:
  principal:
    type: string
    description: IAM ARN, principal id or user name (exact match)
  limit:
    type: int
    description: rows returned at most
    default: 1000
    min: 1
    max: 1000000
mitre:
  - TA0007
owner: security-engineering
*/
SELECT
    event_time,
    source,
    account,
    region,
    event_name,
    source_ip,
    error_code,
    detail
FROM (
    SELECT
        event_time,
        source,
        account,
        region,
        eventname AS event_name,
        sourceipaddress AS source_ip,
        errorcode AS error_code,
        concat_ws(' ', eventsource, useragent) AS detail
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND (
            useridentity.arn = {{ param('principal') }}
            OR useridentity.principalid = {{ param('principal') }}
            OR useridentity.username = {{ param('principal') }}
        )
    UNION ALL
    SELECT
        event_time,
        source,
        account,
        region,
        operation AS event_name,
        remoteip AS source_ip,
        errorcode AS error_code,
        concat_ws(' ', bucket_name, key, useragent) AS detail
    FROM s3access
    WHERE
        {{ window() }}
        AND requester = {{ param('principal') }}
)
ORDER BY event_time, source
LIMIT {{ param('limit') }}
