/*
id: cloudtrail_vpc_flow_logs_deleted
title: VPC flow logs deleted
description: >-
  One or more VPC flow logs were deleted (successful DeleteFlowLogs). Flow
  logs are the network record used to investigate exfiltration, lateral
  movement and command-and-control traffic; deleting them blinds that
  investigation for the VPCs, subnets or network interfaces they covered.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. See which flow logs were deleted (target for one id, otherwise the
     FlowLogId list in request_parameters) and whether any failed
     (response_elements DeleteFlowLogsResponse.unsuccessful).
  2. Find what they covered: earlier CreateFlowLogs events
     (SELECT event_time, requestparameters FROM cloudtrail WHERE
     eventname = 'CreateFlowLogs' AND account_id = '<account_id>')
     and check what still logs: `aws ec2 describe-flow-logs
     --region <aws_region>`.
  3. Ask the actor's team for the change ticket (VPC teardown, moving flow
     logs to another destination).
  4. If unplanned: recreate the flow logs from infrastructure-as-code
     (`aws ec2 create-flow-logs ...`), review the actor's other activity
     around event_time, contain the actor, and consider an SCP denying
     ec2:DeleteFlowLogs outside the network administration role.
false_positives:
  - VPC teardown or flow log reconfiguration (new destination or format)
    done by infrastructure-as-code under a change ticket.
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/working-with-flow-logs.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteFlowLogs.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      DeleteFlowLogs is an operation of EC2 only per the AWS SDK service
      models (botocore 1.43) (flow logs of VPCs, subnets, interfaces and
      transit gateways are all deleted through it), so eventname =
      'DeleteFlowLogs' already implies eventsource ec2.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    responseelements AS response_elements,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(
        requestparameters, '$.DeleteFlowLogsRequest.FlowLogId.content'
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'DeleteFlowLogs'
    AND errorcode IS NULL
