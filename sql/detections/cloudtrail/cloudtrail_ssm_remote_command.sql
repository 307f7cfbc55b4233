/*
id: cloudtrail_ssm_remote_command
title: Command or shell session run on instances through SSM
description: >-
  A principal ran commands on managed instances through AWS Systems
  Manager: a successful SendCommand (Run Command) or StartSession (Session
  Manager shell or port forwarding). Both give code execution on the
  instance as root/SYSTEM through the SSM agent, with no inbound network
  path and no SSH key, which makes them a favourite for lateral movement
  from the control plane. SendCommand calls made by AWS services on the
  account's behalf (invokedBy set, e.g. maintenance windows) and routine
  AWS-owned management documents (patching, agent update, inventory,
  package install) are excluded; AWS-RunShellScript,
  AWS-RunPowerShellScript and custom documents are reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0002:T1651
  - TA0008:T1021.007
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. See what ran: for SendCommand, `aws ssm list-command-invocations
     --command-id <command_id> --details` (commands and output); for
     StartSession, the session log in S3/CloudWatch if session logging is
     enabled (`aws ssm describe-sessions --state History --filters
     key=Target,value=<target>`).
  2. Check the actor: is it an operator or automation that normally uses
     SSM, from its usual source_ip and user_agent? Count targets: SELECT
     eventname, requestparameters FROM cloudtrail WHERE eventsource =
     'ssm.amazonaws.com' AND useridentity.arn = '<actor>' AND dt >= '<day>'.
  3. On the instance, look for the effects (new users, keys, cron jobs,
     outbound connections in VPC flow logs since event_time).
  4. If malicious: terminate sessions (`aws ssm terminate-session
     --session-id <id>`), cancel commands (`aws ssm cancel-command`),
     isolate the instances, and contain the actor.
false_positives:
  - Operators using Session Manager instead of SSH (the normal way in many
    accounts; tune by allowlisting operator roles if too frequent).
  - Deployment or configuration automation using AWS-RunShellScript.
references:
  - https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
  - https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartSession.html
  - https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-cloudtrail-logs.html
  - https://attack.mitre.org/techniques/T1651/
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
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.target'),
        json_extract_scalar(requestparameters, '$.instanceIds[0]')
    ) AS target,
    json_extract_scalar(requestparameters, '$.documentName') AS document_name,
    json_extract_scalar(
        responseelements, '$.command.commandId'
    ) AS command_id
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ssm.amazonaws.com'
    AND eventname IN ('SendCommand', 'StartSession')
    AND errorcode IS NULL
    AND coalesce(useridentity.invokedby, '') = ''
    AND (
        eventname = 'StartSession'
        OR coalesce(
            json_extract_scalar(requestparameters, '$.documentName'), ''
        ) NOT IN (
            'AWS-RunPatchBaseline',
            'AWS-ApplyPatchBaseline',
            'AWS-UpdateSSMAgent',
            'AWS-GatherSoftwareInventory',
            'AWS-ConfigureAWSPackage',
            'AWS-RefreshAssociation',
            'AWS-FindWindowsUpdates'
        )
    )
