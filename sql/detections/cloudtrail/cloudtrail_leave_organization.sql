/*
id: cloudtrail_leave_organization
title: Account left or was removed from the AWS Organization
description: >-
  A successful organizations LeaveOrganization (a member account leaves its
  organization) or RemoveAccountFromOrganization (the management account
  removes a member). Outside the organization the account is no longer
  bound by service control policies, organization CloudTrail trails,
  delegated GuardDuty / Security Hub / Config administration or backup
  policies: an attacker controlling the account escapes central guardrails
  and monitoring. Removing an account is rare and normally part of a
  planned divestment or account closure.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1666
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the account: account_id for LeaveOrganization (the member
     itself), target_account for RemoveAccountFromOrganization; confirm
     with `aws organizations describe-account --account-id <id>` (fails
     once it has left) from the management account.
  2. Ask the cloud platform team for the divestment / closure ticket.
  3. Review what the actor did before leaving (disabling trails, GuardDuty,
     SCP-blocked actions): SELECT event_time, eventsource, eventname,
     errorcode FROM cloudtrail WHERE account_id = '<account_id>' AND
     useridentity.arn = '<actor>' AND dt >= '<day-1>' ORDER BY event_time.
  4. If unauthorised: work with AWS Support to recover the account, reset
     the root credentials, invite it back (`aws organizations
     invite-account-to-organization`), and add an SCP denying
     organizations:LeaveOrganization to all member accounts.
false_positives:
  - Planned account divestments, migrations between organizations and
    account closures.
references:
  - https://docs.aws.amazon.com/organizations/latest/APIReference/API_LeaveOrganization.html
  - https://docs.aws.amazon.com/organizations/latest/APIReference/API_RemoveAccountFromOrganization.html
  - https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_remove.html
  - https://attack.mitre.org/techniques/T1666/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'organizations.amazonaws.com'"
    reason: >-
      LeaveOrganization and RemoveAccountFromOrganization are AWS
      Organizations API actions only: no other AWS service has an operation of
      either name (checked against every botocore service model), so the
      eventname IN (...) conjunct already implies eventSource
      organizations.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.accountId') AS target_account
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'organizations.amazonaws.com'
    AND eventname IN ('LeaveOrganization', 'RemoveAccountFromOrganization')
    AND errorcode IS NULL
