/*
id: cloudtrail_s3_bulk_object_read
title: Bulk S3 object reads by one principal (CloudTrail data events)
description: >-
  One principal asked S3 for at least 300 different objects (GetObject,
  bucket and key) or received at least 20 GiB of object data
  (bytesTransferredOut) within 60 minutes, in one account: a stolen key or
  role emptying buckets before extortion (a real ransomware lab made 1,168
  GetObject calls on one bucket). Reads CloudTrail data events, so it
  works where s3access_bulk_object_download (server access logs) has no
  data; any event source counts (S3 and S3 on Outposts alike). A busy
  application role reads about 100 objects and 3 GB an hour; the limits
  are set well above that. Denied and failed reads count as attempts (a bucket policy
  or KMS key policy that stops the download does not stop the intent), and
  re-reading the same objects does not add up. Role sessions are counted by
  their role (an attacker spreading the work over many sessions is one
  principal), users and root by their ARN; AWS service principals are
  ignored, and principals on the reviewed list sql/lookups/s3_bulk_readers
  (backup, replication, ETL jobs) are not reported. The 60 minutes are a
  sliding period counted as in cloudtrail_access_denied_volume (each run
  reads the two hours before its window), and a burst is reported once, at
  the read that brings it to the limit, when none of the principal's reads
  was at the limit in the hour before. Needs CloudTrail data events for S3
  (read events) on the buckets that matter.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0009:T1530
  - TA0010:T1537
dedup:
  keys: [account_id, principal]
  period: 1d
threshold: 1
runbook: |-
  1. Scope the reads per bucket: SELECT
     json_extract_scalar(requestparameters, '$.bucketName') AS bucket_name,
     count(*) AS reads, count_if(errorcode IS NULL) AS succeeded,
     sum(CAST(json_extract_scalar(additionaleventdata,
     '$.bytesTransferredOut') AS bigint)) AS bytes, min(event_time),
     max(event_time) FROM cloudtrail WHERE eventname = 'GetObject' AND
     coalesce(useridentity.sessioncontext.sessionissuer.arn,
     useridentity.arn) = '<principal>' AND dt = '<day>' GROUP BY 1.
  2. Is it the principal's job? An application role reading its own bucket
     from its usual addresses is a new workload (add it to
     sql/lookups/s3_bulk_readers with its owner); a user or a CLI/SDK
     user agent from an internet address is exfiltration.
  3. Contain: deactivate the access key or revoke the role's sessions (deny
     on aws:TokenIssueTime), and add a bucket policy deny for the source.
  4. List the keys read (step 1 without GROUP BY) for the data-breach
     process, and look for what follows an extortion download: mass
     deletes (cloudtrail_s3_mass_delete), SSE-C rewrites
     (cloudtrail_s3_sse_c_encryption), lifecycle rules.
false_positives:
  - A new backup, replication, migration or analytics job, or one moved to
    a new role; list it in sql/lookups/s3_bulk_readers with its owner.
  - A person syncing a bucket to a laptop (aws s3 sync) for a legitimate
    analysis.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html
  - https://attack.mitre.org/techniques/T1530/
owner: security-engineering
equivalent_mutants:
  - mutant: "before widen: 2h -> 4h"
    reason: >-
      A read of the window is compared with the principal's reads at the
      limit in the hour before it, each counted over its own hour: two hours
      before the window start is the earliest read either can involve, so
      reading further back changes no hit.
*/
WITH object_reads AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        sourceipaddress,
        useragent,
        eventname,
        eventid,
        errorcode,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn,
            useridentity.arn,
            useridentity.principalid
        ) AS principal,
        json_extract_scalar(requestparameters, '$.bucketName') AS bucket_name,
        concat(
            json_extract_scalar(requestparameters, '$.bucketName'),
            '/',
            json_extract_scalar(requestparameters, '$.key')
        ) AS object_name,
        coalesce(
            try_cast(
                json_extract_scalar(
                    additionaleventdata, '$.bytesTransferredOut'
                ) AS bigint
            ),
            0
        ) AS bytes_out
    FROM cloudtrail
    WHERE
        {{ window(before='2h') }}
        AND eventname = 'GetObject'
        AND coalesce(useridentity.type, '') <> 'AWSService'
),

-- Each read with the principal's reads of the hour up to it (same second included).
last_hour AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        actor,
        principal,
        bucket_name,
        sourceipaddress,
        useragent,
        eventname,
        eventid,
        min(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS first_event_time,
        count(*) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS read_calls,
        sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS failed_calls,
        approx_distinct(object_name) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS objects_read,
        approx_distinct(bucket_name) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS buckets_read,
        sum(bytes_out) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS bytes_out
    FROM object_reads
    -- The reviewed bulk readers (backup, replication, ETL): their job, not an incident.
    WHERE NOT contains({{ lookup('s3_bulk_readers') }}, coalesce(principal, ''))
),

-- The reads at the limit.
over_limit AS (
    SELECT *
    FROM last_hour
    WHERE
        objects_read >= 300
        OR bytes_out >= 21474836480
),

-- A burst is reported by its first read at the limit: the one with no other read of the principal at the
-- limit in the hour before. So it is one hit whichever runs it spans, and the run holding that read owns it.
bursts AS (
    SELECT
        *,
        lag(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time, eventid
        ) AS previous_over_limit
    FROM over_limit
)

SELECT
    event_time,
    account_id,
    actor,
    principal,
    sourceipaddress AS source_ip,
    useragent AS user_agent,
    eventname AS event_name,
    eventid AS event_id,
    bucket_name AS target,
    first_event_time,
    read_calls,
    failed_calls,
    objects_read,
    buckets_read,
    bytes_out
FROM bursts
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
