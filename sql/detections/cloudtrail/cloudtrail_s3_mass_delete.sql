/*
id: cloudtrail_s3_mass_delete
title: Mass deletion of S3 objects by one principal (CloudTrail data events)
description: >-
  One principal deleted (or tried to delete) at least 100 different S3
  objects with DeleteObject (bucket, key and version), or made at least 10
  DeleteObjects batch calls, within 60 minutes, in one account: S3
  ransomware without encryption (download, delete, leave a ransom note) or
  plain destruction with a stolen key. A DeleteObjects call removes up to
  1,000 objects and CloudTrail does not record their keys (the event would
  exceed its size limit), so batches are counted as calls; `aws s3 rm
  --recursive` and the console both use them. Denied deletes count as
  attempts (a bucket policy or Object Lock stopping the wipe does not stop
  the intent). Role sessions are counted by their role, users and root by
  their ARN; AWS service principals are ignored, and principals on the
  reviewed list sql/lookups/s3_bulk_deleters (retention and cleanup jobs)
  are not reported. Lifecycle expiration is not a DeleteObject event and
  never counts. The 60 minutes are a sliding period counted as in
  cloudtrail_access_denied_volume (each run reads the two hours before its
  window), and a wipe is reported once, at the delete that brings it to the
  limit, when none of the principal's deletes was at the limit in the hour
  before. Needs CloudTrail data events for S3 (write events) on the
  buckets that matter.
severity: critical
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0040:T1490
dedup:
  keys: [account_id, principal]
  period: 1d
threshold: 1
runbook: |-
  1. Scope the deletes per bucket: SELECT
     json_extract_scalar(requestparameters, '$.bucketName') AS bucket_name,
     eventname, count(*) AS calls, count_if(errorcode IS NULL) AS
     succeeded, min(event_time), max(event_time) FROM cloudtrail WHERE
     eventname IN ('DeleteObject', 'DeleteObjects') AND
     coalesce(useridentity.sessioncontext.sessionissuer.arn,
     useridentity.arn) = '<principal>' AND dt = '<day>' GROUP BY 1, 2.
  2. Contain at once (deactivate the access key, revoke the role's
     sessions): every minute deletes more.
  3. Recover: on versioned buckets the deletes without a versionId only
     added delete markers (`aws s3api list-object-versions`, remove the
     markers); deletes with a versionId, and unversioned buckets, need the
     backups (AWS Backup, replication).
  4. Look for what came before: bulk reads (cloudtrail_s3_bulk_object_read),
     versioning suspended or lifecycle rules changed
     (cloudtrail_s3_versioning_suspended,
     cloudtrail_s3_data_protection_tampering), and a ransom note object.
false_positives:
  - A cleanup or retention job new to the account or moved to a new role;
    list it in sql/lookups/s3_bulk_deleters with its owner.
  - An engineer emptying a test bucket before deleting it.
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/logging-with-S3.html
  - https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
  - https://attack.mitre.org/techniques/T1485/
owner: security-engineering
equivalent_mutants:
  - mutant: "before widen: 2h -> 4h"
    reason: >-
      A delete of the window is compared with the principal's deletes at the
      limit in the hour before it, each counted over its own hour: two hours
      before the window start is the earliest delete either can involve, so
      reading further back changes no hit.
  - mutant: "drop deletes.where: eventname IN ('DeleteObject', 'DeleteObjects')"
    reason: >-
      Other events add neither an object (object_name is set for
      DeleteObject only) nor a batch (DeleteObjects only) to the counts the
      limit is checked on, so they cannot bring a principal to it; the
      filter keeps the data-event scan and the window functions small.
*/
WITH deletes AS (
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
        -- What one deleted object is: bucket, key and version for DeleteObject; nothing for a batch.
        CASE
            WHEN eventname = 'DeleteObject'
                THEN concat(
                    json_extract_scalar(requestparameters, '$.bucketName'),
                    '/',
                    json_extract_scalar(requestparameters, '$.key'),
                    '?',
                    coalesce(
                        json_extract_scalar(requestparameters, '$.versionId'),
                        ''
                    )
                )
        END AS object_name,
        CASE WHEN eventname = 'DeleteObjects' THEN 1 ELSE 0 END AS batch
    FROM cloudtrail
    WHERE
        {{ window(before='2h') }}
        AND eventname IN ('DeleteObject', 'DeleteObjects')
        AND coalesce(useridentity.type, '') <> 'AWSService'
),

-- Each delete with the principal's deletes of the hour up to it (same second included).
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
        sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS failed_calls,
        approx_distinct(object_name) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS objects_deleted,
        sum(batch) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS batch_calls,
        approx_distinct(bucket_name) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS buckets_hit
    FROM deletes
    -- The reviewed cleanup jobs: their job, not an incident.
    WHERE NOT contains({{ lookup('s3_bulk_deleters') }}, coalesce(principal, ''))
),

-- The deletes at the limit.
over_limit AS (
    SELECT *
    FROM last_hour
    WHERE
        objects_deleted >= 100
        OR batch_calls >= 10
),

-- A wipe is reported by its first delete at the limit: the one with no other delete of the principal at the
-- limit in the hour before. So it is one hit whichever runs it spans, and the run holding that delete owns it.
wipes AS (
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
    failed_calls,
    objects_deleted,
    batch_calls,
    buckets_hit
FROM wipes
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
