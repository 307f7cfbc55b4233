/*
id: cloudtrail_rds_snapshots_deleted_burst
title: Many RDS snapshots deleted by one principal within an hour
description: >-
  Five or more DeleteDBSnapshot or DeleteDBClusterSnapshot calls by one
  principal in the same hour, denied and failed attempts included.
  Deleting the manual snapshots of a database, one after another, removes
  the copies a restore would come from: a ransomware or wiper playbook
  does it before deleting or encrypting the database, and a denied burst
  is a stolen key trying. One snapshot deleted by a person or a pipeline
  is routine and stays below the limit. Deletions made by AWS services
  (AWS Backup's lifecycle expiring the snapshots it made, whose source
  address is the service's name) are not counted. Deleting a database
  without a final snapshot is cloudtrail_rds_destructive_change.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1490
  - TA0040:T1485
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 5
runbook: |-
  1. List the hits: which snapshots (target), of which databases, and did
     the calls succeed (error_code)?
  2. Check what is left to restore from: `aws rds describe-db-snapshots
     --db-instance-identifier <db>`, the cluster snapshots, AWS Backup
     recovery points and any copies in another region or account.
  3. Ask the owner of the databases for a cleanup job; a retention script
     runs on a schedule with a role of its own.
  4. If unexplained: contain the actor, turn on deletion protection and
     take fresh snapshots of the affected databases, and keep backups out
     of reach (AWS Backup vault lock, copies in a separate account).
false_positives:
  - A snapshot retention script deleting expired manual snapshots in one
    run (suppress its role, or move retention to AWS Backup lifecycle).
  - An engineer cleaning up old snapshots by hand before a cost review.
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBSnapshot.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBClusterSnapshot.html
  - https://attack.mitre.org/techniques/T1490/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'rds.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) DeleteDBSnapshot exists
      only in RDS and DeleteDBClusterSnapshot only in RDS, Neptune and
      DocumentDB, whose management calls are logged with eventsource
      rds.amazonaws.com; so the eventname list already implies it.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBSnapshotIdentifier'),
        json_extract_scalar(requestparameters, '$.dBClusterSnapshotIdentifier')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'rds.amazonaws.com'
    AND eventname IN ('DeleteDBSnapshot', 'DeleteDBClusterSnapshot')
    -- An AWS service acting for a principal (AWS Backup's lifecycle) is recorded with the service's name as
    -- source address; a person's or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
