/*
id: cloudtrail_ec2_user_data_then_start
title: EC2 instance started within 5 minutes of a user-data change
description: >-
  StartInstances for an instance whose user data was replaced
  (ModifyInstanceAttribute with userData) in the 5 minutes before the
  start (sequence rule). EC2 accepts a user-data change only on a stopped
  instance and runs the new script as root at the next boot, so stop,
  change, start in quick succession is the shape of code execution through
  user data. The change may fall in the previous run's window: changes are
  read from 5 minutes before the window, starts from the window, and each
  sequence is reported once, by the run that sees the start.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0002:T1059.009
  - TA0004:T1548
dedup:
  keys: [account_id, target]
  period: 1h
runbook: |-
  1. Read the user data the instance booted with: `aws ec2
     describe-instance-attribute --instance-id <target> --attribute
     userData --query UserData.Value --output text | base64 -d`.
  2. Compare the actor of the change (modified_by) with the actor of the
     start; list both principals' other calls in the hour.
  3. Ask the instance owner whether a deployment changed the bootstrap.
  4. If malicious: isolate the instance (quarantine security group),
     snapshot its volumes, restore the previous user data, and rotate the
     credentials of the instance role.
false_positives:
  - Operators fixing a broken bootstrap script on a legacy instance by
    hand (stop, edit, start).
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html
  - https://attack.mitre.org/techniques/T1059/009/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.on: s.account_id = c.account_id"
    reason: >-
      Both sides are successful calls naming the same instance ID, and EC2
      only accepts ModifyInstanceAttribute and StartInstances for an instance
      of the calling account (a foreign or unknown ID fails the whole call
      with InvalidInstanceID.NotFound, and failed calls are filtered out); an
      instance ID names one instance, so a joined change and start are always
      logged in the same account.
  - mutant: "threshold main.on: STRPOS(s.requestparameters, '\"' || c.instance_id || '\"') > 0 (+1)"
    reason: >-
      The start's requestParameters is JSON object text, so it begins with '{'
      and a quoted instance ID can never be found at position 1: strpos(...) >
      0 and strpos(...) > 1 hold for exactly the same rows.
  - mutant: "drop changes.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      ModifyInstanceAttribute is an EC2 API action only (no other service has
      an operation of that name, checked against every botocore service
      model), so eventname = 'ModifyInstanceAttribute' already implies
      eventSource ec2.amazonaws.com.
  - mutant: "drop starts.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      StartInstances is an EC2 API action only (checked against every botocore
      service model; Lightsail and OpsWorks have a singular StartInstance), so
      eventname = 'StartInstances' already implies eventSource
      ec2.amazonaws.com.
  - mutant: "before widen: 5m -> 10m"
    reason: >-
      Starts come from the window and the ON clause keeps only changes at most
      5 minutes before their start, so no change older than window start - 5m
      can join; reading changes from 10 minutes before the window only adds
      rows that never match.
*/
WITH changes AS (
    SELECT
        event_time,
        account_id,
        json_extract_scalar(requestparameters, '$.instanceId') AS instance_id,
        coalesce(useridentity.arn, useridentity.principalid) AS modified_by
    FROM cloudtrail
    WHERE
        {{ window(before='5m') }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'ModifyInstanceAttribute'
        AND errorcode IS NULL
        AND (
            lower(json_extract_scalar(requestparameters, '$.attribute'))
            = 'userdata'
            OR regexp_like(requestparameters, '"userData"\s*:')
        )
),

starts AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        useragent,
        eventid,
        awsregion,
        requestparameters,
        coalesce(useridentity.arn, useridentity.principalid) AS actor
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'StartInstances'
        AND errorcode IS NULL
)

SELECT
    s.event_time,
    s.account_id,
    s.sourceipaddress AS source_ip,
    'StartInstances' AS event_name,
    s.actor,
    s.awsregion AS aws_region,
    s.useragent AS user_agent,
    s.eventid AS event_id,
    c.instance_id AS target,
    c.modified_by,
    c.event_time AS modified_at
FROM starts AS s
INNER JOIN changes AS c
    ON
        s.account_id = c.account_id
        AND strpos(s.requestparameters, '"' || c.instance_id || '"') > 0
        AND s.event_time >= c.event_time
        AND s.event_time - INTERVAL '5' MINUTE <= c.event_time
