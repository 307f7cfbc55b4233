/*
id: cloudtrail_efs_deleted
title: EFS file system, mount target or replication deleted
description: >-
  An Amazon EFS file system deleted (DeleteFileSystem), a mount target
  removed (DeleteMountTarget, which cuts the instances of a subnet off the
  file system) or the replication that keeps its copy in another region
  deleted (DeleteReplicationConfiguration). Deleting shared file storage
  destroys the data of every instance mounting it; removing its replica
  first leaves nothing to fail over to. Denied and failed attempts are
  reported too: a stolen key trying to delete storage is the signal. Calls
  made by an AWS service for a principal (CloudFormation deleting a stack's
  file system, recorded with the service's name as source address) are not
  reported, nor creating file systems, mount targets or access points.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, target and error_code: which file system or mount
     target, and did the call succeed?
  2. Check what is left: `aws efs describe-file-systems`, AWS Backup
     recovery points of the file system, and its replica
     (`aws efs describe-replication-configurations`).
  3. Ask the owner of the file system for the change (an environment torn
     down).
  4. If unexplained: restore from AWS Backup, contain the actor, and look
     for other deletions by the actor since event_time (`mamori search
     <actor>`).
false_positives:
  - An environment torn down by hand or by Terraform.
  - A mount target moved to another subnet (deleted, then created).
references:
  - https://docs.aws.amazon.com/efs/latest/ug/API_DeleteFileSystem.html
  - https://docs.aws.amazon.com/efs/latest/ug/API_DeleteMountTarget.html
  - https://docs.aws.amazon.com/efs/latest/ug/API_DeleteReplicationConfiguration.html
  - https://attack.mitre.org/techniques/T1485/
owner: security-engineering
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
        json_extract_scalar(requestparameters, '$.fileSystemId'),
        json_extract_scalar(requestparameters, '$.mountTargetId'),
        json_extract_scalar(requestparameters, '$.sourceFileSystemId')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'elasticfilesystem.amazonaws.com'
    AND eventname IN (
        'DeleteFileSystem', 'DeleteMountTarget', 'DeleteReplicationConfiguration'
    )
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
