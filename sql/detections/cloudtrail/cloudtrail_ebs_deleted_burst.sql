/*
id: cloudtrail_ebs_deleted_burst
title: Many EBS volumes or snapshots deleted by one principal within an hour
description: >-
  Ten or more DeleteVolume or DeleteSnapshot calls by one principal in the
  same hour, denied and failed attempts included. Deleting the snapshots of
  a fleet and then its detached volumes removes both the data and the copies
  a restore would come from: the EC2 step of a ransomware or wiper
  playbook, and a denied burst is a stolen key trying. A person or a
  pipeline removing a few volumes stays below the limit. Deletions made by
  an AWS service for a principal (Data Lifecycle Manager and AWS Backup
  expiring the snapshots they made, Auto Scaling deleting the volumes of
  terminated instances, recorded with the service's name as source address)
  are not counted.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0040:T1490
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 10
runbook: |-
  1. List the hits: which volumes and snapshots (target), and did the calls
     succeed (error_code)?
  2. Check what is left: `aws ec2 describe-snapshots --owner-ids self`,
     the Recycle Bin (`aws rbin list-rules`, `aws ec2
     list-snapshots-in-recycle-bin`), AWS Backup recovery points.
  3. Ask the owner of the fleet for a cleanup job; a retention script runs
     on a schedule with a role of its own.
  4. If unexplained: contain the actor, restore snapshots from the Recycle
     Bin, and keep backups out of reach (a Recycle Bin retention rule with
     a lock, AWS Backup vault lock, copies in a separate account).
false_positives:
  - A snapshot retention script deleting expired snapshots in one run
    (suppress its role, or move retention to Data Lifecycle Manager).
  - An environment torn down by hand, with its volumes and snapshots.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteVolume.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSnapshot.html
  - https://docs.aws.amazon.com/ebs/latest/userguide/recycle-bin.html
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
        json_extract_scalar(requestparameters, '$.volumeId'),
        json_extract_scalar(requestparameters, '$.snapshotId')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname IN ('DeleteVolume', 'DeleteSnapshot')
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
