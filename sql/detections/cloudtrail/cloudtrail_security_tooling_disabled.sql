/*
id: cloudtrail_security_tooling_disabled
title: Inspector, Detective, Security Lake or IAM Access Analyzer disabled
description: >-
  A security service that finds or investigates what an intruder does was
  switched off or narrowed: Amazon Inspector disabled for an account or a
  resource type (Disable), its delegated administrator removed
  (DisableDelegatedAdminAccount) or a member account removed
  (DisassociateMember); an Amazon Detective behaviour graph deleted
  (DeleteGraph), a member leaving it (DisassociateMembership) or removed
  from it (DeleteMembers); the Security Lake data lake deleted
  (DeleteDataLake) or its delegated administrator deregistered
  (DeregisterDataLakeDelegatedAdministrator); an IAM Access Analyzer
  analyzer deleted (DeleteAnalyzer), which stops the findings that report
  resources shared outside the account. Denied and failed attempts are
  reported too: a stolen key trying to blind a security service is the
  signal. Enabling these services, adding members and deleting Access
  Analyzer archive rules are not reported; calls made by an AWS service for
  a principal (recorded with the service's name as source address) are not
  either. GuardDuty, Security Hub, Macie and Config have rules of their own.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, error_code and target: which service, which account
     or analyzer, and did the call succeed?
  2. Check the service now: `aws inspector2 batch-get-account-status`,
     `aws detective list-graphs`, `aws securitylake list-data-lakes`,
     `aws accessanalyzer list-analyzers` in the account and region.
  3. Ask the security team owning the service for the change ticket
     (account offboarding, cost reduction in a sandbox, an analyzer
     replaced by an organization analyzer).
  4. If unplanned: re-enable the service (`aws inspector2 enable`,
     `aws accessanalyzer create-analyzer`, ...), review what the actor did
     since event_time (`mamori search <actor>`), contain the actor, and
     deny these calls by SCP outside the security role.
false_positives:
  - An account closed or moved out of the organization, offboarded from the
    security services by the security team.
  - An account analyzer deleted after an organization analyzer replaced it.
references:
  - https://docs.aws.amazon.com/inspector/v2/APIReference/API_Disable.html
  - https://docs.aws.amazon.com/detective/latest/APIReference/API_DeleteGraph.html
  - https://docs.aws.amazon.com/security-lake/latest/APIReference/API_DeleteDataLake.html
  - https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_DeleteAnalyzer.html
  - https://attack.mitre.org/techniques/T1562/001/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventsource AS event_source,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.analyzerName'),
        json_extract_scalar(requestparameters, '$.graphArn'),
        json_extract_scalar(requestparameters, '$.accountId'),
        account_id
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND (
        (
            eventsource = 'inspector2.amazonaws.com'
            AND eventname IN (
                'Disable', 'DisableDelegatedAdminAccount', 'DisassociateMember'
            )
        )
        OR (
            eventsource = 'detective.amazonaws.com'
            AND eventname IN (
                'DeleteGraph', 'DisassociateMembership', 'DeleteMembers'
            )
        )
        OR (
            eventsource = 'securitylake.amazonaws.com'
            AND eventname IN (
                'DeleteDataLake', 'DeregisterDataLakeDelegatedAdministrator'
            )
        )
        OR (
            eventsource = 'access-analyzer.amazonaws.com'
            AND eventname = 'DeleteAnalyzer'
        )
    )
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
