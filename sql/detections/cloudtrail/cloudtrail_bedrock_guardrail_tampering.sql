/*
id: cloudtrail_bedrock_guardrail_tampering
title: Bedrock guardrail or model invocation logging tampered with
description: >-
  A successful Amazon Bedrock DeleteGuardrail, UpdateGuardrail or
  DeleteModelInvocationLoggingConfiguration. Guardrails filter harmful
  content, prompt attacks and sensitive data in model input and output;
  model invocation logging is the only record of prompts and completions.
  Removing or weakening them precedes abuse of the account's models
  (LLMjacking, jailbreaks, data leakage) and hides it. UpdateGuardrail is
  reported whatever changed, because CloudTrail does not say which
  policies were relaxed; compare versions during triage.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the change: target is the guardrail id/ARN; `aws bedrock
     get-guardrail --guardrail-identifier <target>` (DRAFT) and compare with
     the latest published version (`aws bedrock list-guardrails
     --guardrail-identifier <target>`); for logging, `aws bedrock
     get-model-invocation-logging-configuration`.
  2. Ask the AI platform team whether a guardrail change or logging change
     was planned (ticket, IaC change).
  3. Look for model use after event_time by the same actor or from the same
     source_ip: SELECT event_time, eventname, sourceipaddress FROM cloudtrail
     WHERE eventsource = 'bedrock.amazonaws.com' AND dt >= '<day>' ORDER BY
     event_time (InvokeModel* if data events are enabled).
  4. If unauthorised: restore the guardrail from IaC or a previous version,
     re-enable invocation logging (`aws bedrock
     put-model-invocation-logging-configuration`), and contain the actor.
false_positives:
  - Guardrail tuning by the AI platform team (UpdateGuardrail).
  - Tearing down test environments.
references:
  - https://docs.aws.amazon.com/bedrock/latest/APIReference/API_DeleteGuardrail.html
  - https://docs.aws.amazon.com/bedrock/latest/APIReference/API_UpdateGuardrail.html
  - https://docs.aws.amazon.com/bedrock/latest/APIReference/API_DeleteModelInvocationLoggingConfiguration.html
  - https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'bedrock.amazonaws.com'"
    reason: >-
      DeleteGuardrail, UpdateGuardrail and
      DeleteModelInvocationLoggingConfiguration are operations of the
      Bedrock control plane only: no other service model in botocore 1.43
      (bedrock-runtime, bedrock-agent and the AgentCore services included)
      has an operation of any of those names, so the eventname list already
      implies eventsource bedrock.amazonaws.com.
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
    json_extract_scalar(
        requestparameters, '$.guardrailIdentifier'
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'bedrock.amazonaws.com'
    AND eventname IN (
        'DeleteGuardrail',
        'UpdateGuardrail',
        'DeleteModelInvocationLoggingConfiguration'
    )
    AND errorcode IS NULL
