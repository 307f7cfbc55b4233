/*
id: cloudtrail_macie_disabled
title: Amazon Macie disabled, paused or its members removed
description: >-
  Amazon Macie was switched off or narrowed: DisableMacie, a session paused
  (UpdateMacieSession, or UpdateMemberSession from the administrator
  account, with status PAUSED), a member account removed by the
  administrator (DisassociateMember, DeleteMember), a member leaving its
  administrator (DisassociateFromAdministratorAccount or its older name
  DisassociateFromMasterAccount), or the organization's delegated Macie
  administrator removed (DisableOrganizationAdminAccount). Macie is what
  finds sensitive data in S3 and reports buckets made public or shared;
  turning it off before reading or exposing data hides the exposure.
  Denied and failed attempts are reported too: a stolen key trying to
  disable a security service is the signal. Enabling Macie, resuming it,
  changing its publishing frequency and removing its jobs, allow lists or
  filters are not reported, nor the same call names of Inspector, Clean
  Rooms or Managed Blockchain.
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
  1. Read event_name, error_code and target (the member account for
     member calls): did the call succeed, and on which account?
  2. Check Macie now: `aws macie2 get-macie-session` (status) in the
     account and region, and `aws macie2 list-members` in the
     administrator account (relationshipStatus of target).
  3. Ask the security team owning Macie for the change ticket (account
     offboarding, cost reduction in a sandbox).
  4. If unplanned: re-enable (`aws macie2 update-macie-session --status
     ENABLED`, or `aws macie2 enable-macie`) and re-invite the member
     (`aws macie2 create-member`), review S3 changes and reads by the actor
     since event_time (bucket policies, public access blocks, bulk reads),
     and contain the actor; deny macie2:DisableMacie, UpdateMacieSession
     and the Disassociate/Delete member calls by SCP outside the security
     role.
false_positives:
  - An account closed or moved out of the organization, offboarded from
    Macie by the security team.
  - Macie paused in a sandbox account to save cost.
references:
  - https://docs.aws.amazon.com/macie/latest/APIReference/macie.html
  - https://docs.aws.amazon.com/macie/latest/user/macie-suspend-disable.html
  - https://docs.aws.amazon.com/macie/latest/user/macie-logging.html
  - https://attack.mitre.org/techniques/T1562/001/
owner: security-engineering
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
    coalesce(json_extract_scalar(requestparameters, '$.id'), account_id) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'macie2.amazonaws.com'
    AND (
        eventname IN (
            'DisableMacie',
            'DisassociateMember',
            'DeleteMember',
            'DisassociateFromAdministratorAccount',
            'DisassociateFromMasterAccount',
            'DisableOrganizationAdminAccount'
        )
        OR (
            eventname IN ('UpdateMacieSession', 'UpdateMemberSession')
            AND upper(json_extract_scalar(requestparameters, '$.status')) = 'PAUSED'
        )
    )
