/*
id: cloudtrail_rds_destructive_change
title: RDS database deleted without a final snapshot, its backups removed or its deletion protection turned off
description: >-
  The RDS and Aurora steps of a ransomware or wiper playbook, denied and
  failed attempts included: DeleteDBInstance or DeleteDBCluster with
  skipFinalSnapshot true (nothing is kept of the database at deletion),
  DeleteDBInstanceAutomatedBackup or DeleteDBClusterAutomatedBackup (the
  retained automated backups of a deleted database are removed),
  ModifyDBInstance with backupRetentionPeriod 0 (automated backups are
  turned off and the existing ones deleted), and ModifyDBInstance or
  ModifyDBCluster with deletionProtection false (the guard against
  deletion is taken off first). A delete that takes a final snapshot is
  not reported, whatever its deleteAutomatedBackups (removing them is
  RDS's default; the snapshot survives). Calls made by AWS services on a
  principal's behalf (CloudFormation deleting a stack's database, whose
  source address is the service's name) are left to the stack's own
  change review. Mass deletion of snapshots is
  cloudtrail_rds_snapshots_deleted_burst; AWS Backup's vaults and recovery
  points are cloudtrail_backup_destruction.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0040:T1490
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, error_code, target and the flags in
     request_parameters: was a database deleted with nothing kept, its
     backups removed, or its protection lowered (often minutes before a
     delete)?
  2. Check what is left: `aws rds describe-db-snapshots
     --db-instance-identifier <target>`, `aws rds
     describe-db-instance-automated-backups --db-instance-identifier
     <target>` (and the cluster equivalents), and AWS Backup recovery
     points for the resource.
  3. Ask the database's owner for the change (a decommissioning ticket, a
     dev environment torn down); the actor's other calls in the hour tell
     an orderly teardown from a wipe.
  4. If unexplained: contain the actor (disable the key, revoke sessions),
     turn deletion protection back on everywhere (`aws rds
     modify-db-instance --deletion-protection`), restore from the newest
     snapshot or recovery point, and protect backups with an AWS Backup
     vault lock or a copy in another account.
false_positives:
  - Terraform or scripts tearing down short-lived dev or test databases
    with skip_final_snapshot = true (suppress that pipeline's role in
    those accounts, not the rule).
  - A planned decommissioning that turns deletion protection off before
    deleting with a final snapshot (the protection change is reported).
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstanceAutomatedBackup.html
  - https://attack.mitre.org/techniques/T1485/
  - https://attack.mitre.org/techniques/T1490/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'rds.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) DeleteDBInstance,
      DeleteDBCluster, ModifyDBInstance and ModifyDBCluster exist only in
      RDS, Neptune and DocumentDB, whose management calls are logged with
      eventsource rds.amazonaws.com, and DeleteDBInstanceAutomatedBackup and
      DeleteDBClusterAutomatedBackup only in RDS; so the eventname lists
      already imply it.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBInstanceIdentifier'),
        json_extract_scalar(requestparameters, '$.dBClusterIdentifier'),
        json_extract_scalar(requestparameters, '$.dbiResourceId'),
        json_extract_scalar(requestparameters, '$.dbClusterResourceId'),
        json_extract_scalar(requestparameters, '$.dBInstanceAutomatedBackupsArn')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'rds.amazonaws.com'
    -- An AWS service acting for a principal (CloudFormation deleting a stack) is recorded with the service's
    -- name as source address; a person's or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
    AND (
        (
            eventname IN ('DeleteDBInstance', 'DeleteDBCluster')
            AND lower(json_extract_scalar(requestparameters, '$.skipFinalSnapshot')) = 'true'
        )
        OR eventname IN ('DeleteDBInstanceAutomatedBackup', 'DeleteDBClusterAutomatedBackup')
        OR (
            eventname = 'ModifyDBInstance'
            AND json_extract_scalar(requestparameters, '$.backupRetentionPeriod') = '0'
        )
        OR (
            eventname IN ('ModifyDBInstance', 'ModifyDBCluster')
            AND lower(json_extract_scalar(requestparameters, '$.deletionProtection')) = 'false'
        )
    )
