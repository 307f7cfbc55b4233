/*
id: ip_activity_all_sources
title: This IP across every log source, two hours either side
description: >-
  Events per source, account and region that mention the alert's source IP (flows, web requests, S3
  requests, SSH logins, API calls), through the common related_ips column of all_events.
entity: source_ip
lookback: 2h
limit: 25
default: true
*/
SELECT
    source,
    account_id,
    region,
    count(*) AS events,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM all_events
WHERE
    {{ window() }}
    AND contains(related_ips, {{ entity }})
GROUP BY source, account_id, region
ORDER BY events DESC
