/*
id: cloudtrail_sqs_queue_purged
title: SQS queue purged outside infrastructure-as-code
description: >-
  A principal called PurgeQueue on an SQS queue: every message waiting in
  it is deleted at once and cannot be recovered. Queues carry the work
  between an application's parts (orders, payments, jobs) and often the
  security pipeline's own feed (S3 event notifications, GuardDuty and
  Security Hub findings routed to a SIEM): purging one destroys that data
  or the evidence in flight. Denied attempts count too: trying is the
  signal. Purges by the reviewed infrastructure-as-code pipelines (lookup
  iac_principals) and by an AWS service on the caller's behalf (invokedBy)
  are not reported; a test suite that resets its queues should run as a
  pipeline role or in an account of its own.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (the queue URL) and error_code: what does the queue carry,
     and who consumes it?
  2. Ask the queue's owner for the purge (stale messages after an
     incident, a stuck dead-letter queue); an unannounced purge of a
     production or security queue is not routine.
  3. If unexplained: find what was lost (the producers' logs and metrics,
     ApproximateNumberOfMessagesVisible before event_time), replay from the
     producers where possible, and contain the actor; if the queue fed the
     security pipeline, look for what the attacker did just before.
  4. Deny sqs:PurgeQueue on production queues outside their owners' roles.
false_positives:
  - An engineer clearing a dead-letter queue of poison messages by hand
    after a fix.
  - Integration tests purging their own queues with a developer's
    credentials.
references:
  - https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_PurgeQueue.html
  - https://github.com/elastic/detection-rules/blob/main/rules/integrations/aws/defense_evasion_sqs_purge_queue.toml
  - https://attack.mitre.org/techniques/T1485/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'sqs.amazonaws.com'"
    reason: >-
      Per botocore 1.43's service models PurgeQueue is an operation of SQS
      only, so no other service's event has that name.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.queueUrl') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'sqs.amazonaws.com'
    AND eventname = 'PurgeQueue'
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, '')
    )
