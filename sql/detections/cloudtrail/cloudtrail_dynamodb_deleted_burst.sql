/*
id: cloudtrail_dynamodb_deleted_burst
title: DynamoDB tables or backups deleted in a burst by one principal
description: >-
  Three or more DeleteTable or DeleteBackup calls, or point-in-time
  recovery switched off (UpdateContinuousBackups with
  pointInTimeRecoveryEnabled false), by one principal in the same hour,
  denied and failed attempts included. Deleting a table's backups and
  turning off its recovery before deleting the tables is the data-store
  version of a ransomware or wiper playbook; a denied burst is a stolen key
  trying. One table removed by a person or a pipeline stays below the
  limit, and deletions made by an AWS service for a principal (AWS Backup
  expiring the backups it made, CloudFormation deleting a stack's tables,
  recorded with the service's name as source address) are not counted.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0040:T1490
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 3
runbook: |-
  1. List the hits: which tables and backups (target), and did the calls
     succeed (error_code)?
  2. Check what is left to restore from: `aws dynamodb list-backups`,
     `aws dynamodb describe-continuous-backups --table-name <table>`, AWS
     Backup recovery points and copies in another account.
  3. Ask the tables' owner for the teardown (an environment retired, a
     stack destroyed by its pipeline).
  4. If unexplained: contain the actor, turn on deletion protection and
     point-in-time recovery on the remaining tables, take on-demand
     backups, and keep backups out of reach (AWS Backup vault lock, copies
     in a separate account).
false_positives:
  - An environment torn down by hand or by Terraform (several tables
    deleted in one run).
  - A backup retention script deleting expired on-demand backups (suppress
    its role, or move retention to AWS Backup lifecycle).
references:
  - https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html
  - https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteBackup.html
  - https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateContinuousBackups.html
  - https://attack.mitre.org/techniques/T1485/
  - https://attack.mitre.org/techniques/T1490/
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
        json_extract_scalar(requestparameters, '$.tableName'),
        json_extract_scalar(requestparameters, '$.backupArn')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'dynamodb.amazonaws.com'
    AND (
        eventname IN ('DeleteTable', 'DeleteBackup')
        OR (
            eventname = 'UpdateContinuousBackups'
            AND regexp_like(
                coalesce(requestparameters, ''),
                '"pointInTimeRecoveryEnabled"\s*:\s*false'
            )
        )
    )
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
