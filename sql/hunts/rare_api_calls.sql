/*
id: rare_api_calls
title: Rare API calls per principal
description: >-
  API calls a principal made at most `max_calls` times in the range, for
  principals that made at least `min_principal_calls` calls in it: the
  odd one out in an otherwise busy identity's routine (a CI role that
  suddenly calls CreateAccessKey, a read-only user calling
  PutBucketPolicy). The range is the baseline, so widen it (--last 7d)
  for a stronger one. Calls by AWS service principals are ignored.
default_range: 7d
parameters:
  max_calls:
    type: int
    description: an API is rare for a principal at or below this many calls
    default: 2
    min: 1
  min_principal_calls:
    type: int
    description: only principals with at least this many calls in the range
    default: 20
    min: 1
  principal:
    type: string
    description: only this principal ARN (empty = every principal)
    default: ""
  limit:
    type: int
    description: rows returned at most
    default: 200
    min: 1
    max: 100000
mitre:
  - TA0007
  - TA0003
owner: security-engineering
*/
WITH calls AS (
    SELECT
        useridentity.arn AS principal,
        eventsource AS event_source,
        eventname AS event_name,
        count(*) AS calls,
        min(event_time) AS first_seen,
        max(event_time) AS last_seen,
        array_join(array_sort(array_agg(DISTINCT sourceipaddress)), ',') AS source_ips
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND useridentity.arn IS NOT NULL
        AND coalesce(useridentity.type, '') <> 'AWSService'
        AND (
            {{ param('principal') }} = ''
            OR useridentity.arn = {{ param('principal') }}
        )
    GROUP BY useridentity.arn, eventsource, eventname
),

totals AS (
    SELECT
        principal,
        sum(calls) AS principal_calls,
        count(*) AS distinct_apis
    FROM calls
    GROUP BY principal
)

SELECT
    c.principal,
    c.event_source,
    c.event_name,
    c.calls,
    t.principal_calls,
    t.distinct_apis,
    c.first_seen,
    c.last_seen,
    c.source_ips
FROM calls AS c
INNER JOIN totals AS t ON c.principal = t.principal
WHERE
    c.calls <= {{ param('max_calls') }}
    AND t.principal_calls >= {{ param('min_principal_calls') }}
ORDER BY c.calls ASC, t.principal_calls DESC, c.principal ASC, c.event_name ASC
LIMIT {{ param('limit') }}
