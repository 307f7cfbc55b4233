/*
id: cloudtrail_ec2_instance_connect_key_pushed
title: SSH key pushed to an instance by a principal new to EC2 Instance Connect
description: >-
  A principal pushed an SSH public key to an instance through EC2 Instance
  Connect (SendSSHPublicKey, or SendSerialConsoleSSHPublicKey for the serial
  console) and had not pushed one in the 14 days before the run's window
  (first-seen rule). The key is accepted for 60 seconds: enough to log in to
  the instance, or to its serial console when the network is closed, with
  nothing but IAM permissions. With stolen credentials it is the shortest
  way from the control plane onto a machine and its instance role.
  Administrators who connect this way every week are in the baseline. The
  attempt is reported whatever its outcome (allowed or denied). Role
  sessions are compared with the baseline by their role (every SSO
  administrator of one permission set shares it: the set's habit is the
  baseline), users and root by their ARN. Alerts are keyed on the
  principal column, which keeps an SSO session's person: two new people
  are two alerts.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0008:T1021.004
  - TA0003:T1098.004
lookback: 14d
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: which instance (target) and OS user, and
     whether it was the serial console. List the principal's EC2 Instance
     Connect calls: SELECT event_time, eventname, requestparameters,
     errorcode, sourceipaddress, useragent FROM cloudtrail WHERE
     eventsource = 'ec2-instance-connect.amazonaws.com' AND
     useridentity.arn = '<actor>' AND dt >= '<day-1>' ORDER BY event_time.
  2. Check the instance's own logs right after event_time (sshd in
     /var/log/secure via the cloudwatch source, syslog_* rules): who
     logged in, from where, and what ran.
  3. Ask the principal's owner; a new administrator or a first use of the
     EC2 console's Connect button explains it.
  4. If unexplained: contain the principal (deactivate keys, revoke role
     sessions), isolate the instance (security group), rotate what its
     instance role can reach, and restrict ec2-instance-connect:* to the
     administrators who need it.
false_positives:
  - A new administrator, or an administrator connecting for the first time
    in two weeks.
  - Break-glass access through the serial console during an outage.
references:
  - https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html
  - https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSerialConsoleSSHPublicKey.html
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-connect-methods.html
  - https://attack.mitre.org/techniques/T1021/004/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop seen.where: eventsource = 'ec2-instance-connect.amazonaws.com'"
    reason: >-
      SendSSHPublicKey and SendSerialConsoleSSHPublicKey are operations of EC2
      Instance Connect only per the AWS SDK service models (botocore 1.43), so
      the eventname list already implies the event source.
  - mutant: "drop pushes.where: eventsource = 'ec2-instance-connect.amazonaws.com'"
    reason: >-
      Same as for the baseline: no other service has an operation of either
      name (botocore 1.43).
  - mutant: "drop main.on: p.account_id = s.account_id"
    reason: >-
      Both sides compare a role, user or root ARN, which names its account,
      and EC2 Instance Connect pushes keys only to instances of the caller's
      own account (instances are not shared across accounts), so a record's
      account_id is the account in its principal's ARN and equal principals
      already mean equal accounts.
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
        AND eventsource = 'ec2-instance-connect.amazonaws.com'
        AND eventname IN ('SendSSHPublicKey', 'SendSerialConsoleSSHPublicKey')
),

pushes AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        errorcode,
        requestparameters,
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
        AND eventsource = 'ec2-instance-connect.amazonaws.com'
        AND eventname IN ('SendSSHPublicKey', 'SendSerialConsoleSSHPublicKey')
)

SELECT
    p.event_time,
    p.account_id,
    p.sourceipaddress AS source_ip,
    p.eventname AS event_name,
    p.awsregion AS aws_region,
    p.useragent AS user_agent,
    p.errorcode AS error_code,
    p.requestparameters AS request_parameters,
    p.eventid AS event_id,
    p.identity_type,
    p.actor,
    p.principal,
    p.target
FROM pushes AS p
LEFT JOIN seen AS s
    ON
        p.account_id = s.account_id
        AND p.issuer = s.issuer
WHERE s.issuer IS NULL
