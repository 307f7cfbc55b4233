/*
id: cloudtrail_bedrock_first_invocation
title: Bedrock model invoked by a principal new to Bedrock
description: >-
  A principal called a Bedrock model (InvokeModel,
  InvokeModelWithResponseStream, Converse, ConverseStream) and had not
  invoked any model successfully in the 14 days before the run's window
  (first-seen rule). Stolen credentials are resold for model access
  ("LLMjacking"): the buyer's proxy invokes the most expensive models
  under the victim's account, often after enabling model access, and the
  first attempts are frequently denied (model access not granted, no
  permission). Attempts are reported whatever their outcome, while the
  baseline counts successful invocations only, so an attacker's failed
  attempts never whitelist the attacker. Applications that use Bedrock
  invoke it all the time and are in the baseline; listing or describing
  models is not an invocation. Role sessions are compared by their role,
  users and root by their ARN, and one alert covers a principal's
  attempts in an hour whatever the session. Invocations an AWS service
  makes on a principal's behalf (userIdentity.invokedBy: Bedrock agents,
  flows, knowledge bases) are ignored: they are the agent's own.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1496
  - TA0001:T1078.004
lookback: 14d
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. List the principal's Bedrock calls and how they went: SELECT
     event_time, eventname, json_extract_scalar(requestparameters,
     '$.modelId') AS model, errorcode, sourceipaddress, useragent FROM
     cloudtrail WHERE eventsource = 'bedrock.amazonaws.com' AND
     coalesce(useridentity.sessioncontext.sessionissuer.arn,
     useridentity.arn) = '<principal>' AND dt = '<day>' ORDER BY
     event_time. Model-access changes (PutUseCaseForModelAccess,
     CreateFoundationModelAgreement), GetModelInvocationLoggingConfiguration
     or an unfamiliar source_ip point to resold credentials.
  2. Check the account's Bedrock spend and token counts in Cost Explorer
     and CloudWatch (AWS/Bedrock InputTokenCount, OutputTokenCount).
  3. Ask the principal's owner; a new application explains a first use.
  4. If unexplained: contain the principal (deactivate keys, revoke role
     sessions), remove model access that no one needs, and consider a
     service control policy limiting bedrock:InvokeModel to known roles.
false_positives:
  - A new application, or a developer trying Bedrock for the first time.
  - An application moved to a new role or account.
references:
  - https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html
  - https://sysdig.com/blog/llmjacking-stolen-cloud-credentials-used-in-new-ai-attack/
  - https://permiso.io/blog/exploiting-hosted-models
  - https://attack.mitre.org/techniques/T1496/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop seen.where: eventsource = 'bedrock.amazonaws.com'"
    reason: >-
      InvokeModel, InvokeModelWithResponseStream, Converse and ConverseStream
      are operations of bedrock-runtime only (botocore 1.43 service models),
      which CloudTrail records under bedrock.amazonaws.com, so the event
      names already imply the source.
  - mutant: "drop attempts.where: eventsource = 'bedrock.amazonaws.com'"
    reason: >-
      As above: no other service has events of these names.
  - mutant: "drop main.on: r.account_id = s.account_id"
    reason: >-
      Both sides compare a role, user or root ARN, which names its account,
      and a model invocation is billed to and logged in the caller's own
      account, so equal principals already mean equal accounts.
*/
WITH seen AS (
    SELECT DISTINCT
        account_id,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS principal
    FROM cloudtrail
    WHERE
        {{ lookback() }}
        AND eventsource = 'bedrock.amazonaws.com'
        AND eventname IN (
            'InvokeModel',
            'InvokeModelWithResponseStream',
            'Converse',
            'ConverseStream'
        )
        AND errorcode IS NULL
),

attempts AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        errorcode,
        eventid,
        useridentity.type AS identity_type,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn, useridentity.arn
        ) AS principal,
        json_extract_scalar(requestparameters, '$.modelId') AS model_id
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'bedrock.amazonaws.com'
        AND eventname IN (
            'InvokeModel',
            'InvokeModelWithResponseStream',
            'Converse',
            'ConverseStream'
        )
        AND useridentity.invokedby IS NULL
)

SELECT
    r.event_time,
    r.account_id,
    r.sourceipaddress AS source_ip,
    r.eventname AS event_name,
    r.awsregion AS aws_region,
    r.useragent AS user_agent,
    r.errorcode AS error_code,
    r.eventid AS event_id,
    r.identity_type,
    r.actor,
    r.principal,
    r.model_id
FROM attempts AS r
LEFT JOIN seen AS s
    ON
        r.account_id = s.account_id
        AND r.principal = s.principal
WHERE s.principal IS NULL
