/*
id: cloudtrail_rds_instance_made_public
title: RDS DB instance made publicly accessible
description: >-
  A successful ModifyDBInstance, a restore of an RDS instance
  (RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime,
  RestoreDBInstanceFromS3) or of a Multi-AZ DB cluster
  (RestoreDBClusterFromSnapshot, RestoreDBClusterToPointInTime), or a read
  replica of an existing instance (CreateDBInstanceReadReplica), with
  requestParameters.publiclyAccessible = true. The database then gets a
  public DNS name and, in a subnet with an internet gateway and a permissive
  security group, is reachable from the internet. Restoring a snapshot, or
  replicating a private instance, as a public database is a known way to
  copy a database out of an account; making an existing instance public
  exposes it to password guessing and exploitation. Creating a new, empty
  database as public (CreateDBInstance, CreateDBCluster) is not reported,
  nor are calls that set publiclyAccessible to false, and failed calls.
  Not covered: a public instance added to an existing Aurora cluster
  (CreateDBInstance with dBClusterIdentifier), which looks the same as the
  first instance of a new cluster.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1578
  - TA0010:T1537
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Inspect the instance: `aws rds describe-db-instances
     --db-instance-identifier <target> --query
     'DBInstances[0].[PubliclyAccessible,Endpoint,DBSubnetGroup,VpcSecurityGroups]'`;
     for a cluster restore use `aws rds describe-db-clusters
     --db-cluster-identifier <target>`. For a restore or a read replica,
     restored_from names the source snapshot or database.
  2. Check real exposure: do the subnets route to an internet gateway, and
     do the security groups allow the DB port from 0.0.0.0/0 or ::/0
     (`aws ec2 describe-security-groups --group-ids <sg>`)?
  3. Ask the actor's team for the change ticket; check whether the actor
     also shared snapshots or changed the master password around event_time.
  4. If unintended: `aws rds modify-db-instance --db-instance-identifier
     <target> --no-publicly-accessible --apply-immediately` (for a cluster,
     `aws rds modify-db-instance` on each of its instances); if the database
     is an unexpected restore or replica, snapshot it for evidence and
     delete it;
     review DB logs for logins since event_time and contain the actor.
false_positives:
  - Development or demo databases intentionally exposed for a short time.
  - Databases reached from outside AWS through an IP allowlist by design.
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterFromSnapshot.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html
  - https://attack.mitre.org/techniques/T1578/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'rds.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43)
      RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime,
      RestoreDBInstanceFromS3 and CreateDBInstanceReadReplica exist only in
      RDS, and ModifyDBInstance, RestoreDBClusterFromSnapshot and
      RestoreDBClusterToPointInTime only in RDS, Neptune and DocumentDB, whose
      management calls are logged with eventsource rds.amazonaws.com; so the
      eventname list already implies it.
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
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBInstanceIdentifier'),
        json_extract_scalar(
            requestparameters, '$.targetDBInstanceIdentifier'
        ),
        json_extract_scalar(requestparameters, '$.dBClusterIdentifier')
    ) AS target,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBSnapshotIdentifier'),
        json_extract_scalar(
            requestparameters, '$.sourceDBInstanceIdentifier'
        ),
        json_extract_scalar(requestparameters, '$.snapshotIdentifier'),
        json_extract_scalar(
            requestparameters, '$.sourceDBClusterIdentifier'
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
        'RestoreDBInstanceFromS3',
        'RestoreDBClusterFromSnapshot',
        'RestoreDBClusterToPointInTime',
        'CreateDBInstanceReadReplica'
    )
    AND errorcode IS NULL
    AND lower(
        json_extract_scalar(requestparameters, '$.publiclyAccessible')
    ) = 'true'
