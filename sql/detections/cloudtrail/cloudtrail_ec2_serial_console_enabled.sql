/*
id: cloudtrail_ec2_serial_console_enabled
title: EC2 serial console access enabled for the account
description: >-
  An EnableSerialConsoleAccess call, denied and failed attempts included.
  The EC2 serial console is off by default and is an account-wide switch
  per region; once on, anyone allowed ec2-instance-connect:
  SendSerialConsoleSSHPublicKey gets an interactive console on an
  instance's serial port, outside its network controls, security groups
  and SSH configuration (a way in that survives the instance being
  isolated). Turning it on is a rare troubleshooting step; turning it off
  is not reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0008:T1021.008
  - TA0003:T1098
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read the region, error_code and the actor: who enabled the serial
     console where, and from where (source_ip, user_agent)?
  2. Look for serial console sessions since: SELECT event_time, actor,
     requestparameters FROM cloudtrail WHERE eventname =
     'SendSerialConsoleSSHPublicKey' AND account_id = '<account_id>' AND
     dt >= '<day>' (cloudtrail_ec2_instance_connect_key_pushed reports
     them).
  3. Ask the actor's team for the troubleshooting ticket.
  4. If unexplained or done: `aws ec2 disable-serial-console-access
     --region <region>`; contain the actor.
false_positives:
  - Operators troubleshooting an instance that lost network access (the
    console should be disabled again afterwards).
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableSerialConsoleAccess.html
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configure-access-to-serial-console.html
  - https://attack.mitre.org/techniques/T1021/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      EnableSerialConsoleAccess is an operation of EC2 only: no other
      service model in botocore 1.43 has an operation of that name, so the
      eventname already implies eventsource ec2.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    awsregion AS region,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'EnableSerialConsoleAccess'
