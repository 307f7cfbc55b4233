/*
id: cloudtrail_glue_dev_endpoint_access
title: AWS Glue development endpoint created or given a new SSH key
description: >-
  A CreateDevEndpoint, or an UpdateDevEndpoint that sets or adds an SSH
  public key (publicKey or addPublicKeys), denied and failed attempts
  included. A Glue development endpoint is a machine that runs with the
  IAM role passed to it and accepts SSH logins with the endpoint's keys: a
  principal allowed iam:PassRole and glue:CreateDevEndpoint gets a shell
  with a stronger role's credentials, and glue:UpdateDevEndpoint on an
  existing endpoint lets it add its own key to someone else's. Development
  endpoints only run Glue 0.9 and 1.0, which AWS no longer supports, so a
  new one is unusual. Updates that only change libraries or arguments, and
  deleting an endpoint, are not reported. SageMaker notebook instances,
  the same idea in another service, are everyday data-science work and are
  not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.004
  - TA0003:T1098.004
  - TA0002:T1651
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read endpoint_name, role_arn (for a creation), error_code and the
     actor.
  2. Inspect the endpoint: `aws glue get-dev-endpoint --endpoint-name
     <endpoint_name>` (its role, public address, keys) and what the role
     may do.
  3. Look for use of the role since event_time: SELECT event_time,
     eventname, sourceipaddress FROM cloudtrail WHERE
     useridentity.sessioncontext.sessionissuer.arn = '<role_arn>' AND dt
     >= '<day>' ORDER BY event_time.
  4. If unexplained: `aws glue delete-dev-endpoint --endpoint-name
     <endpoint_name>`, revoke the role's sessions, contain the actor.
false_positives:
  - Data engineers on legacy Glue versions creating an endpoint to debug a
    job.
references:
  - https://docs.aws.amazon.com/glue/latest/webapi/API_CreateDevEndpoint.html
  - https://docs.aws.amazon.com/glue/latest/webapi/API_UpdateDevEndpoint.html
  - https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/
  - https://attack.mitre.org/techniques/T1098/004/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'glue.amazonaws.com'"
    reason: >-
      CreateDevEndpoint and UpdateDevEndpoint are operations of Glue only:
      no other service model in botocore 1.43 has an operation of either
      name, so the eventname conditions already imply eventsource
      glue.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.endpointName') AS endpoint_name,
    json_extract_scalar(requestparameters, '$.roleArn') AS role_arn
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'glue.amazonaws.com'
    AND (
        eventname = 'CreateDevEndpoint'
        OR (
            eventname = 'UpdateDevEndpoint'
            AND (
                json_extract(requestparameters, '$.publicKey') IS NOT NULL
                OR json_extract(requestparameters, '$.addPublicKeys') IS NOT NULL
            )
        )
    )
