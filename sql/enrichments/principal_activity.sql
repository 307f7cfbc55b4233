/*
id: principal_activity
title: CloudTrail activity of this principal, two hours either side
description: >-
  Every API call the alert's actor made from two hours before the first hit to two hours after the last:
  what did they do before and after, from which IPs, with which errors.
entity: actor
lookback: 2h
limit: 25
default: true
*/
SELECT
    event_time,
    eventsource AS event_source,
    eventname AS event_name,
    sourceipaddress AS source_ip,
    errorcode AS error_code,
    awsregion AS aws_region
FROM cloudtrail
WHERE
    {{ window() }}
    AND (useridentity.arn = {{ entity }} OR useridentity.principalid = {{ entity }})
ORDER BY event_time
