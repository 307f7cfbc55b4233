/*
id: cloudtrail_rds_master_password_changed
title: RDS master user password changed
description: >-
  A successful ModifyDBInstance, ModifyDBCluster or ModifyTenantDatabase
  that sets a new master user password (requestParameters.masterUserPassword
  present; CloudTrail records the value as HIDDEN_DUE_TO_SECURITY_REASONS).
  Resetting the master password through the control plane gives the caller
  full access to the database without knowing the old credentials, a common
  step to read or copy data after gaining AWS API access. Covers RDS
  instances, the tenant databases of an RDS for Oracle container database
  (ModifyTenantDatabase; target is the instance, tenant_db the tenant), and
  Aurora, Neptune and DocumentDB clusters (all log as rds.amazonaws.com).
  The password given when a database is created (CreateDBInstance,
  CreateDBCluster, CreateTenantDatabase, restores) is not a reset and is not
  reported, nor is rotation of a Secrets Manager managed password
  (rotateMasterUserPassword), which is not a password chosen by the caller.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the database: target is the instance or cluster identifier;
     `aws rds describe-db-instances --db-instance-identifier <target>` or
     `aws rds describe-db-clusters --db-cluster-identifier <target>`; for
     a tenant database (tenant_db set): `aws rds describe-tenant-databases
     --db-instance-identifier <target> --tenant-db-name <tenant_db>`.
  2. Ask the database owner whether a password reset was planned (lost
     password, break-glass); check whether the same actor made the database
     public, shared snapshots or changed security groups around event_time.
  3. Review database connections since event_time (RDS log files:
     `aws rds describe-db-log-files --db-instance-identifier <id>`, or
     Database Activity Streams) for logins from unexpected addresses.
  4. If unexplained: set a new password known only to the owner (or enable
     manage-master-user-password), restrict network access, and contain
     the actor (disable its keys or revoke its role sessions).
false_positives:
  - Administrators resetting a forgotten master password.
  - Infrastructure-as-code rotating the password from a vault.
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyTenantDatabase.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ResetPassword.html
  - https://attack.mitre.org/techniques/T1098/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'rds.amazonaws.com'"
    reason: >-
      ModifyTenantDatabase exists only in RDS, and ModifyDBInstance and
      ModifyDBCluster only in RDS, Neptune and DocumentDB per the AWS SDK
      service models (botocore 1.43); Neptune and DocumentDB management calls
      are logged with eventsource rds.amazonaws.com, so the eventname list
      already implies it.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBInstanceIdentifier'),
        json_extract_scalar(requestparameters, '$.dBClusterIdentifier')
    ) AS target,
    json_extract_scalar(requestparameters, '$.tenantDBName') AS tenant_db
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'rds.amazonaws.com'
    AND eventname IN ('ModifyDBInstance', 'ModifyDBCluster', 'ModifyTenantDatabase')
    AND errorcode IS NULL
    AND json_extract_scalar(
        requestparameters, '$.masterUserPassword'
    ) IS NOT NULL
