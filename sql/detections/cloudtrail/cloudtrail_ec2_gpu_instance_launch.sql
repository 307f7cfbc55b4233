/*
id: cloudtrail_ec2_gpu_instance_launch
title: GPU or accelerated instances launched by a principal new to them
description: >-
  A principal tried to launch GPU or other accelerated instances (EC2
  RunInstances of the p, g, gr, inf, trn, dl, f or vt families) and had
  launched none in the 14 days before the run's window (first-seen rule).
  Stolen credentials are turned into money by mining on the biggest
  accelerated instances an account allows; the first attempts often fail
  (VcpuLimitExceeded, InsufficientInstanceCapacity, UnauthorizedOperation)
  and are reported as well, since the attempt is the signal and a failure
  is usually followed by a retry in another region or family. The type is
  read from the request, or from the launched instance when a launch
  template chose it. Teams that run accelerated instances keep launching
  them and are in the baseline (successful launches only, so an attacker's
  failed attempts never whitelist the attacker). Role sessions are compared
  by their role, users and root by their ARN, and one alert covers a
  principal's attempts in an hour whatever the session. Launches made by
  an AWS service on a principal's behalf (userIdentity.invokedBy: Auto
  Scaling, SageMaker, Batch, EMR) are ignored: their own pipelines own
  them.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1496
lookback: 14d
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. List the attempts and how they went: SELECT event_time, awsregion,
     json_extract_scalar(requestparameters, '$.instanceType') AS type,
     errorcode, sourceipaddress, useragent FROM cloudtrail WHERE eventname
     = 'RunInstances' AND coalesce(useridentity.sessioncontext.sessionissuer.arn,
     useridentity.arn) = '<principal>' AND dt = '<day>' ORDER BY
     event_time. Attempts in several regions, many instances per call or an
     unfamiliar source_ip point to cryptomining.
  2. Find instances that did start (`aws ec2 describe-instances --filters
     Name=instance-type,Values=p*,g*,inf*,trn*,dl*` in every region) and
     their user data and key pair.
  3. Ask the principal's owner; a new ML project explains a first launch.
  4. If unexplained: stop the instances (keep their volumes for forensics),
     contain the principal (deactivate keys, revoke role sessions), and
     consider a service control policy denying accelerated families where
     no one needs them.
false_positives:
  - A new machine-learning project, or an existing one moving to a new
    role or account.
  - Capacity or quota tests by a platform team.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
  - https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html
  - https://www.invictus-ir.com/news/the-curious-case-of-dangerdev-protonmail-me
  - https://attack.mitre.org/techniques/T1496/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop seen.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      RunInstances is an operation of EC2 only (botocore 1.43 service
      models: no other service defines it), so eventname = 'RunInstances'
      already implies ec2.amazonaws.com.
  - mutant: "drop attempts.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      As above: no other service has a RunInstances event.
  - mutant: "drop main.on: r.account_id = s.account_id"
    reason: >-
      Both sides compare a role, user or root ARN, which names its account,
      and RunInstances launches into the caller's own account (another
      account's role must be assumed first, which gives a principal of that
      account), so equal principals already mean equal accounts.
*/
WITH seen AS (
    SELECT DISTINCT
        account_id,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS principal
    FROM cloudtrail
    WHERE
        {{ lookback() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'RunInstances'
        AND errorcode IS NULL
        AND regexp_like(
            coalesce(
                json_extract_scalar(requestparameters, '$.instanceType'),
                json_extract_scalar(
                    responseelements, '$.instancesSet.items[0].instanceType'
                )
            ),
            '^(p|g|gr|inf|trn|dl|f|vt)[0-9][a-z0-9-]*\.'
        )
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
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS principal,
        coalesce(
            json_extract_scalar(requestparameters, '$.instanceType'),
            json_extract_scalar(
                responseelements, '$.instancesSet.items[0].instanceType'
            )
        ) AS instance_type
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'RunInstances'
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
    r.instance_type
FROM attempts AS r
LEFT JOIN seen AS s
    ON
        r.account_id = s.account_id
        AND r.principal = s.principal
WHERE
    s.principal IS NULL
    AND regexp_like(r.instance_type, '^(p|g|gr|inf|trn|dl|f|vt)[0-9][a-z0-9-]*\.')
