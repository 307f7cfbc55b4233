/*
id: cloudtrail_ec2_user_data_modified
title: EC2 instance user data modified
description: >-
  A successful ModifyInstanceAttribute that replaces an instance's user
  data: requestParameters.attribute = 'userData' (CLI/SDK form with a
  value), or a userData key in the request (CloudTrail shows the content as
  <sensitiveDataRemoved>). User data runs as root at boot (cloud-init or
  EC2Launch), so changing it and then stopping and starting the instance is
  a known way to run code on an instance and to plant persistence without
  network access to it. EC2 only accepts the change on a stopped instance,
  so look for the StopInstances / StartInstances around the alert. Changes
  to other attributes (instance type, security groups, ...) are not
  reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0002:T1059.009
  - TA0003:T1037
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read the new user data: `aws ec2 describe-instance-attribute
     --instance-id <target> --attribute userData --query UserData.Value
     --output text | base64 -d` (look for reverse shells, curl|sh, new
     users or keys).
  2. Find the stop/start around the change: SELECT event_time, eventname,
     sourceipaddress FROM cloudtrail WHERE eventname IN ('StopInstances',
     'StartInstances', 'ModifyInstanceAttribute') AND requestparameters
     LIKE '%<target>%' AND dt >= '<day>' ORDER BY event_time.
  3. Ask the instance owner whether the change was deployed by their
     tooling (launch template updates normally replace instances instead).
  4. If malicious: stop the instance, snapshot its volumes for forensics,
     restore the previous user data, rotate credentials reachable from the
     instance role, and contain the actor.
false_positives:
  - Operators fixing bootstrap scripts on stopped instances.
  - Tools that rewrite user data for legacy, long-lived instances.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html
  - https://attack.mitre.org/techniques/T1059/009/
  - https://attack.mitre.org/techniques/T1037/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      ModifyInstanceAttribute is an operation of EC2 only: no other service
      model in botocore 1.43 has an operation of that name, so eventname =
      'ModifyInstanceAttribute' already implies eventsource
      ec2.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.instanceId') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'ModifyInstanceAttribute'
    AND errorcode IS NULL
    AND (
        lower(json_extract_scalar(requestparameters, '$.attribute'))
        = 'userdata'
        OR regexp_like(requestparameters, '"userData"\s*:')
    )
