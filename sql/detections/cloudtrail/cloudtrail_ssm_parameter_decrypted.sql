/*
id: cloudtrail_ssm_parameter_decrypted
title: SSM SecureString parameters decrypted by a person
description: >-
  A human principal read Systems Manager parameters with decryption
  (GetParameter, GetParameters, GetParametersByPath or GetParameterHistory,
  which returns every past value, with withDecryption true) three or more
  times in an aligned hour. Applications and AWS
  services read their parameters with decryption all day, so only callers
  that are people are counted: IAM users, root, federated users, and
  assumed-role sessions that come from IAM Identity Center
  (AWSReservedSSO_* roles) or from the console
  (sessionCredentialFromConsole). Calls made by a service on the caller's
  behalf (invokedBy) and failed calls are ignored. Long-term IAM user keys
  used by automation count as people here, on purpose: they are the
  credentials most often leaked. Sessions of SAML-federated roles used from
  the CLI look like application roles and are not counted. Each call counts
  once, including a GetParametersByPath that returns a whole tree: the
  threshold trades single reads while debugging against sweeps.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1552.005
  - TA0006:T1555.006
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 3
runbook: |-
  1. List the parameters read: SELECT event_time, eventname,
     requestparameters, sourceipaddress, useragent FROM cloudtrail WHERE
     eventsource = 'ssm.amazonaws.com' AND eventname LIKE 'GetParameter%'
     AND useridentity.arn = '<actor>' AND dt = '<day>' ORDER BY
     event_time. Paths, a recursive GetParametersByPath and the source_ip
     tell a debugging session from a sweep.
  2. Ask the person whether they read these values and why; compare with
     their usual work (their team owns the parameters?).
  3. If unexplained: contain the principal (reset the user's password and
     keys, or revoke the role's sessions), rotate every secret that was
     read (`aws ssm put-parameter --name <name> --type SecureString
     --overwrite --value <new>` after rotating it at its origin) and hunt
     for use of those secrets.
  4. Longer term, limit ssm:GetParameter* and kms:Decrypt on SecureString
     paths to the workloads that need them.
false_positives:
  - Engineers reading configuration secrets while debugging or during an
    on-call incident.
  - Automation running under an IAM user's long-term keys (CI bots).
references:
  - https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
  - https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html
  - https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameterHistory.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
  - https://attack.mitre.org/techniques/T1552/005/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ssm.amazonaws.com'"
    reason: >-
      GetParameter, GetParameters, GetParametersByPath and GetParameterHistory
      are operations of Systems Manager only per the AWS SDK service models
      (botocore 1.43), so the eventname list already implies eventsource
      ssm.amazonaws.com.
  - mutant: "drop main.where: eventname IN ('GetParameter', 'GetParameters', 'GetParametersByPath', 'GetParameterHistory')"
    reason: >-
      The rule also needs withDecryption = true in the request, and per the
      botocore 1.43 Systems Manager model the only operations with a
      WithDecryption parameter are these four, so no other ssm.amazonaws.com
      event can pass.
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
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.name'),
        json_extract_scalar(requestparameters, '$.path')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ssm.amazonaws.com'
    AND eventname IN (
        'GetParameter', 'GetParameters', 'GetParametersByPath', 'GetParameterHistory'
    )
    AND errorcode IS NULL
    AND lower(json_extract_scalar(requestparameters, '$.withDecryption')) = 'true'
    AND useridentity.invokedby IS NULL
    AND (
        useridentity.type IN ('IAMUser', 'Root', 'FederatedUser')
        OR (
            useridentity.type = 'AssumedRole'
            AND (
                useridentity.sessioncontext.sessionissuer.username LIKE 'AWSReservedSSO%'
                OR sessioncredentialfromconsole = 'true'
            )
        )
    )
