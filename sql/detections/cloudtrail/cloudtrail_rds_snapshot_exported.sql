/*
id: cloudtrail_rds_snapshot_exported
title: RDS snapshot exported to S3 or copied to another region
description: >-
  A StartExportTask (an RDS or Aurora snapshot, or a cluster, written to an
  S3 bucket as Parquet), or a CopyDBSnapshot or CopyDBClusterSnapshot whose
  source snapshot ARN names another region than the call's (a cross-region
  copy), denied and failed attempts included. Both move a whole database
  out of where it is watched without network traffic from the database:
  the export lands as files in a bucket the caller chose, readable with
  any S3 credentials that reach it, and a copy in a region where nothing
  is monitored can then be shared or restored quietly. The attempt is the
  signal: a stolen key has no routine reason to try. AWS Backup's own
  cross-region copy jobs (called by the backup service) and same-region
  copies are not reported; sharing a snapshot is covered by
  cloudtrail_rds_snapshot_shared.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0010:T1537
  - TA0009:T1530
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, error_code, target (the snapshot or cluster) and
     destination (the bucket, or the copy's name and the call's region):
     did it succeed, and whose bucket or region is it?
  2. For an export: `aws rds describe-export-tasks --export-task-identifier
     <id>` (status, S3 location, KMS key) and who can read the bucket
     (`aws s3api get-bucket-policy --bucket <destination>`); for a copy:
     `aws rds describe-db-snapshots --region <aws_region>` and its sharing
     (`describe-db-snapshot-attributes`).
  3. Ask the data platform team for the export or copy job (analytics
     exports, disaster-recovery copies have a schedule and a role).
  4. If unplanned: cancel the export (`aws rds cancel-export-task`),
     delete exported objects and the copy, treat the data as exposed
     (rotate credentials stored in the database) and contain the actor.
false_positives:
  - Scheduled exports to a data lake for analytics, run by a dedicated
    role (suppress that role, not the rule).
  - Disaster-recovery copies to a second region made by your own scripts
    rather than AWS Backup.
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_CopySnapshot.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
*/
WITH moves AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useridentity.type AS identity_type,
        useragent,
        requestparameters,
        errorcode,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        coalesce(
            json_extract_scalar(requestparameters, '$.sourceArn'),
            json_extract_scalar(requestparameters, '$.sourceDBSnapshotIdentifier'),
            json_extract_scalar(requestparameters, '$.sourceDBClusterSnapshotIdentifier')
        ) AS target,
        coalesce(
            json_extract_scalar(requestparameters, '$.s3BucketName'),
            json_extract_scalar(requestparameters, '$.targetDBSnapshotIdentifier'),
            json_extract_scalar(requestparameters, '$.targetDBClusterSnapshotIdentifier')
        ) AS destination
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'rds.amazonaws.com'
        -- AWS Backup's copy jobs run as its service role and are recorded with the service as source address.
        AND sourceipaddress <> 'backup.amazonaws.com'
)

SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    actor,
    principal,
    target,
    destination
FROM moves
WHERE
    eventname = 'StartExportTask'
    OR (
        eventname IN ('CopyDBSnapshot', 'CopyDBClusterSnapshot')
        -- A source named without an ARN is in the call's region. regexp_extract gives NULL on Athena and ''
        -- on DuckDB when nothing matches; NOT IN ('', ...) is false for both.
        AND regexp_extract(target, '^arn:aws[a-z-]*:rds:([a-z0-9-]+):', 1) NOT IN ('', awsregion)
    )
