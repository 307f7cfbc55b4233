/*
id: cloudtrail_rds_instance_made_public
title: RDS DB instance made publicly accessible
description: >-
  A successful ModifyDBInstance, or a restore of an RDS instance
  (RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime,
  RestoreDBInstanceFromS3), with requestParameters.publiclyAccessible = true.
  The instance then gets a public DNS name and, in a subnet with an internet
  gateway and a permissive security group, is reachable from the internet.
  Restoring a snapshot as a public instance is a known way to copy a
  database out of an account; making an existing instance public exposes it
  to password guessing and exploitation. Calls that set publiclyAccessible to
  false, and failed calls, are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1578
  - TA0010:T1537
dedup:
  keys: [account_id, actor, target]
  period: 1h
threshold: 1
runbook: |-
  1. Inspect the instance: `aws rds describe-db-instances
     --db-instance-identifier <target> --query
     'DBInstances[0].[PubliclyAccessible,Endpoint,DBSubnetGroup,VpcSecurityGroups]'`;
     for a restore, note the source snapshot in request_parameters.
  2. Check real exposure: do the subnets route to an internet gateway, and
     do the security groups allow the DB port from 0.0.0.0/0 or ::/0
     (`aws ec2 describe-security-groups --group-ids <sg>`)?
  3. Ask the actor's team for the change ticket; check whether the actor
     also shared snapshots or changed the master password around event_time.
  4. If unintended: `aws rds modify-db-instance --db-instance-identifier
     <target> --no-publicly-accessible --apply-immediately`; if the instance
     is an unexpected restore, snapshot it for evidence and delete it;
     review DB logs for logins since event_time and contain the actor.
false_positives:
  - Development or demo databases intentionally exposed for a short time.
  - Databases reached from outside AWS through an IP allowlist by design.
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html
  - https://attack.mitre.org/techniques/T1578/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBInstanceIdentifier'),
        json_extract_scalar(
            requestparameters, '$.targetDBInstanceIdentifier'
        )
    ) AS target,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBSnapshotIdentifier'),
        json_extract_scalar(
            requestparameters, '$.sourceDBInstanceIdentifier'
        )
    ) AS restored_from
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'rds.amazonaws.com'
    AND eventname IN (
        'ModifyDBInstance',
        'RestoreDBInstanceFromDBSnapshot',
        'RestoreDBInstanceToPointInTime',
        'RestoreDBInstanceFromS3'
    )
    AND errorcode IS NULL
    AND lower(
        json_extract_scalar(requestparameters, '$.publiclyAccessible')
    ) = 'true'
