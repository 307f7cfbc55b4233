/*
id: cloudtrail_secrets_deleted_burst
title: Secrets Manager secrets deleted or their rotation cancelled in a burst
description: >-
  Three or more DeleteSecret or CancelRotateSecret calls by one principal
  in the same hour, denied and failed attempts included (a DeleteSecret
  with forceDeleteWithoutRecovery true is gone at once, without the 7 to
  30 day window in which RestoreSecret brings it back).
  Deleting an application's secrets breaks every service that reads them
  (an impact playbook), and cancelling rotation keeps a stolen credential
  valid. One secret removed by a person or a pipeline, with its recovery
  window, stays below the limit; calls made by an AWS service for a
  principal (CloudFormation deleting a stack's secrets, recorded with the
  service's name as source address) are not counted.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0040:T1531
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 3
runbook: |-
  1. List the hits: which secrets (target), forced or not
     (request_parameters), and did the calls succeed (error_code)?
  2. Restore what is still in its recovery window: `aws secretsmanager
     restore-secret --secret-id <target>` (`aws secretsmanager list-secrets
     --include-planned-deletion` lists them).
  3. Ask the owner of the application for the teardown.
  4. If unexplained: contain the actor, restore the secrets, re-enable
     rotation and rotate the secrets whose rotation was cancelled, and deny
     secretsmanager:DeleteSecret with forceDeleteWithoutRecovery by SCP.
false_positives:
  - An environment torn down by hand or by Terraform with
    recovery_window_in_days = 0 (forced deletes).
references:
  - https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html
  - https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CancelRotateSecret.html
  - https://attack.mitre.org/techniques/T1485/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'secretsmanager.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) DeleteSecret and
      CancelRotateSecret are operations of Secrets Manager only, so the
      eventname list already implies the source.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.secretId') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'secretsmanager.amazonaws.com'
    AND eventname IN ('DeleteSecret', 'CancelRotateSecret')
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
