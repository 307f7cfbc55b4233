/*
id: cloudtrail_ec2_user_data_read
title: Instance user data read by a principal new to instance attributes
description: >-
  A principal asked for an instance's user data (EC2
  DescribeInstanceAttribute, attribute userData) and had not called
  DescribeInstanceAttribute at all in the 7 days before the run's window
  (first-seen rule). User data holds bootstrap scripts, and with them
  passwords, tokens and keys left there; reading it across the fleet is a
  standard step after stealing credentials (Pacu ec2__download_userdata).
  Whoever reads it routinely (Terraform refreshing instances, CSPM
  scanners, administrators viewing instance settings in the console) calls
  DescribeInstanceAttribute every few days and is in the baseline. The
  attempt is reported whatever its outcome (allowed or denied). Role
  sessions are compared with the baseline by their role (an SSO
  permission set's too), users and root by their ARN; alerts are keyed on
  the principal column (an SSO session's person, not its role). Calls
  made by an AWS service on a principal's behalf (userIdentity.invokedBy,
  e.g. CloudFormation drift detection) are ignored. The baseline is any
  DescribeInstanceAttribute call, not only userData reads, so that it
  reads no request parameters over 7 days (Athena bills the bytes of the
  columns a query reads).
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1552
  - TA0007:T1580
lookback: 7d
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. List what the principal read and how it went: SELECT event_time,
     json_extract_scalar(requestparameters, '$.instanceId') AS instance,
     errorcode, sourceipaddress, useragent FROM cloudtrail WHERE eventname
     = 'DescribeInstanceAttribute' AND useridentity.arn = '<actor>' AND dt
     = '<day>' ORDER BY event_time. Many instances in a few minutes, an
     unusual source_ip or a CLI/SDK user agent on a workload role mean a
     sweep.
  2. Look at what the user data of those instances holds (`aws ec2
     describe-instance-attribute --instance-id <target> --attribute
     userData`, base64): any credential there is to be treated as exposed.
  3. Ask the principal's owner; a new automation or a new administrator
     explains a first read.
  4. If unexplained: contain the principal (deactivate keys, revoke role
     sessions), rotate every secret found in the user data read, and move
     secrets out of user data (Secrets Manager, SSM Parameter Store).
false_positives:
  - A new automation, CSPM scanner or administrator reading user data for
    the first time (or for the first time in a week).
  - Infrastructure-as-code roles recreated under a new name.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html
  - https://github.com/RhinoSecurityLabs/pacu/wiki/Module-Details
  - https://attack.mitre.org/techniques/T1552/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop attempts.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      The only other DescribeInstanceAttribute is Amazon Connect's (botocore
      1.43), whose request has InstanceId and AttributeType (an enum of
      contact-center settings such as INBOUND_CALLS) and no attribute member,
      so attribute = 'userData' already implies EC2.
  - mutant: "drop main.on: r.account_id = s.account_id"
    reason: >-
      Both sides compare a role, user or root ARN, which names its account,
      and DescribeInstanceAttribute can only read instances of the caller's
      own account (EC2 instances are not shared across accounts), so a
      record's account_id is the account in its principal's ARN and equal
      principals already mean equal accounts.
*/
WITH seen AS (
    SELECT DISTINCT
        account_id,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS issuer
    FROM cloudtrail
    WHERE
        {{ lookback() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'DescribeInstanceAttribute'
),

attempts AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        errorcode,
        eventid,
        useridentity.type AS identity_type,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS issuer,
        json_extract_scalar(requestparameters, '$.instanceId') AS target
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'DescribeInstanceAttribute'
        AND json_extract_scalar(requestparameters, '$.attribute') = 'userData'
        AND useridentity.invokedby IS NULL
)

SELECT
    r.event_time,
    r.account_id,
    r.sourceipaddress AS source_ip,
    r.eventname AS event_name,
    r.awsregion AS aws_region,
    r.useragent AS user_agent,
    r.errorcode AS error_code,
    r.eventid AS event_id,
    r.identity_type,
    r.actor,
    r.principal,
    r.target
FROM attempts AS r
LEFT JOIN seen AS s
    ON
        r.account_id = s.account_id
        AND r.issuer = s.issuer
WHERE s.issuer IS NULL
