/*
id: vpcflow_skipdata
title: VPC flow log records were skipped (SKIPDATA)
description: >-
  A flow log wrote a record with log-status SKIPDATA: AWS dropped flow
  records for that interface during the aggregation interval (internal
  capacity constraint or error). Traffic in the gap is invisible to every
  network detection, so this is a health signal for the monitoring
  pipeline, not evidence of an attack. One alert per account and day keeps
  it to a ticket; repeated gaps on the same interfaces call for an AWS
  support case.
severity: low
status: stable
log_source: vpcflow
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id]
  period: 1d
threshold: 1
runbook: |-
  1. Measure the gap: SELECT interface_id, count(*) AS records,
     min(event_time) AS first, max(event_time) AS last FROM vpcflow
     WHERE log_status = 'SKIPDATA' AND account_id = '<account_id>'
     AND dt = '<day>' GROUP BY interface_id ORDER BY records DESC.
  2. Find the flow log and its settings: `aws ec2 describe-flow-logs
     --filter Name=resource-id,Values=<vpc or eni>`; check the
     destination's delivery status (DeliverLogsStatus, DeliverLogsErrorMessage).
  3. Note the gap (interfaces, time range) in the detection coverage log;
     if it recurs, open an AWS support case and consider capturing with a
     second flow log (e.g. to CloudWatch Logs) for the affected interfaces.
  4. If other alerts concern the same interfaces and time, review them with
     the gap in mind (missing flows may hide part of the activity).
false_positives:
  - Occasional single SKIPDATA records during AWS-side capacity events,
    with no security meaning.
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    interface_id AS actor,
    srcaddr AS source_ip,
    log_status AS event_name,
    interface_id,
    vpc_id,
    subnet_id,
    instance_id,
    start,
    flow_region
FROM vpcflow
WHERE
    {{ window() }}
    AND log_status = 'SKIPDATA'
