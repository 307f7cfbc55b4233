/*
id: cloudtrail_security_hub_tampering
title: Security Hub disabled, disconnected or findings suppressed in bulk
description: >-
  Security Hub was weakened by a successful call: DisableSecurityHub,
  BatchDisableStandards, DisableImportFindingsForProduct (an integration
  such as GuardDuty or Inspector stops sending findings),
  DisassociateFromAdministratorAccount or DisassociateFromMasterAccount
  (the account leaves the central security view), DeleteInsight; or a
  BatchUpdateFindings that sets Workflow.Status to SUPPRESSED on 10 or more
  findings in one call (suppressed findings stay hidden even when the
  provider updates them). Single-finding suppressions and RESOLVED updates
  are normal analyst triage and are not reported. The finding count is a
  regular expression counting consecutive {Id, ProductArn} objects; request
  keys are matched in PascalCase and camelCase.
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
  1. See what changed (event_name, request_parameters): `aws securityhub
     describe-hub --region <aws_region>`, `aws securityhub
     get-enabled-standards`, `aws securityhub list-enabled-products-for-import`
     and `aws securityhub get-administrator-account`.
  2. For bulk suppression, list the findings from request_parameters and
     check what they were about: `aws securityhub get-findings --filters
     '{"Id":[{"Value":"<id>","Comparison":"EQUALS"}]}'`. Findings about
     the actor's own activity are a strong sign of cover-up.
  3. Ask the actor's team for the change ticket; only the security team's
     role should change Security Hub.
  4. If unexplained: re-enable (`aws securityhub enable-security-hub`,
     `batch-enable-standards`, `enable-import-findings-for-product`,
     re-accept the administrator invitation), set the findings back to
     NEW (`aws securityhub batch-update-findings --workflow Status=NEW`),
     contain the actor and review its other activity.
false_positives:
  - Planned changes by the security team (disabling a standard, removing a
    product integration, account decommissioning).
  - Bulk suppression of accepted risks by the security team (prefer
    automation rules for this).
  - Deleting an obsolete custom insight (a saved filter) is harmless.
references:
  - https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html
  - https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_DisableSecurityHub.html
  - https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-ct.html
  - https://attack.mitre.org/techniques/T1562/001/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'securityhub.amazonaws.com'
    AND errorcode IS NULL
    AND (
        eventname IN (
            'DisableSecurityHub',
            'BatchDisableStandards',
            'DisableImportFindingsForProduct',
            'DisassociateFromAdministratorAccount',
            'DisassociateFromMasterAccount',
            'DeleteInsight'
        )
        OR (
            eventname = 'BatchUpdateFindings'
            AND regexp_like(
                requestparameters,
                '"[wW]orkflow"\s*:\s*\{[^{}]*"[sS]tatus"\s*:\s*"SUPPRESSED"'
            )
            -- 10 or more consecutive finding identifiers {"Id": ..., "ProductArn": ...} in one request.
            AND regexp_like(
                requestparameters,
                '(\{\s*"([iI]d|[pP]roductArn)"\s*:\s*"[^"]*"\s*,\s*'
                || '"([iI]d|[pP]roductArn)"\s*:\s*"[^"]*"\s*\}[\s,]*){10}'
            )
        )
    )
