/*
id: cloudtrail_secrets_batch_retrieval
title: Secrets Manager secrets swept in bulk with BatchGetSecretValue
description: >-
  A BatchGetSecretValue call shaped like a sweep rather than an application
  loading its configuration: a filter with a negated value (the catch-all
  trick, e.g. tag-key "!tagKeyThatWillNeverExist", matches every secret), a
  continuation page (nextToken: the filter matched more secrets than one
  page returns), or 10 or more secrets named in one call (up to 20 secret
  values per call). One call returns what would otherwise be 20 GetSecretValue
  calls, which is why stolen-credential tooling (Stratus Red Team, LUCR-3 /
  Scattered Spider playbooks) uses it to stay under per-call volume rules.
  Calls are reported whatever their outcome (allowed, denied, failed):
  asking for everything is the signal, whether or not it was granted. An
  application reading a few named secrets, or one tag's secrets in one
  page, is not a sweep; ListSecrets with the same filters returns names
  only and is not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1555.006
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: which filters or secret names, and whether
     the call was denied (error_code). Then list every secret read by the
     principal: SELECT event_time, eventname,
     json_extract_scalar(requestparameters, '$.secretId') AS secret,
     errorcode, sourceipaddress FROM cloudtrail WHERE eventsource =
     'secretsmanager.amazonaws.com' AND useridentity.arn = '<actor>' AND
     dt = '<day>' ORDER BY event_time (Secrets Manager also logs one
     GetSecretValue per secret a batch returns).
  2. Check whether the principal normally uses BatchGetSecretValue and from
     where (source_ip, user_agent) over the previous week.
  3. If unexplained: contain the principal (deactivate keys, revoke role
     sessions), rotate every secret returned (`aws secretsmanager
     rotate-secret --secret-id <id>`), and hunt for use of those
     credentials outside AWS.
false_positives:
  - Secret inventory, backup or migration tooling that reads every secret by
    design (a known role, from a known address, under a change ticket).
  - Applications that load more than 10 named secrets in one call at
    start-up, or page through a tag filter with a small maxResults.
references:
  - https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html
  - https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets.html
  - https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.secretsmanager-batch-retrieve-secrets/
  - https://attack.mitre.org/techniques/T1555/006/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'secretsmanager.amazonaws.com'"
    reason: >-
      BatchGetSecretValue is an operation of Secrets Manager only per the AWS
      SDK service models (botocore 1.43), so eventname =
      'BatchGetSecretValue' already implies eventsource
      secretsmanager.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_array_length(json_extract(requestparameters, '$.secretIdList')) AS named_secrets
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'secretsmanager.amazonaws.com'
    AND eventname = 'BatchGetSecretValue'
    AND (
        -- A negated filter value ("!x") matches every secret that lacks x: the catch-all sweep.
        regexp_like(coalesce(json_format(json_extract(requestparameters, '$.filters')), ''), '"!')
        OR json_extract_scalar(requestparameters, '$.nextToken') IS NOT NULL
        OR json_array_length(json_extract(requestparameters, '$.secretIdList')) >= 10
    )
