/*
id: cloudtrail_region_enabled
title: Opt-in AWS region enabled
description: >-
  An opt-in region (for example af-south-1, ap-east-1, me-central-1) was
  enabled for an account with the Account Management API (EnableRegion,
  from the console or the CLI; a management account can enable a region
  for a member account, named by AccountId). Attackers enable regions
  nobody watches to run resources (crypto-mining, staging) outside
  monitoring, and some security tooling only covers the regions enabled
  when it was deployed. Only successful calls are reported; the request
  key is RegionName, read in either case.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1535
dedup:
  keys: [account_id, target]
  period: 1d
threshold: 1
runbook: |-
  1. Check the region's state and whose account it is: `aws account
     get-region-opt-status --region-name <target>` (add --account-id
     <target_account> when the call named a member account).
  2. Ask the actor's team for the change ticket; new regions are normally
     enabled by the cloud platform team after a review.
  3. Look for activity in the region since event_time: SELECT event_time,
     eventsource, eventname, useridentity.arn FROM cloudtrail WHERE
     awsregion = '<target>' AND dt >= '<day>' ORDER BY event_time; check
     that trails, GuardDuty and Config cover it.
  4. If unexplained: terminate what was created there, disable the region
     (`aws account disable-region --region-name <target>`), contain the
     actor, and restrict regions with an SCP on aws:RequestedRegion.
false_positives:
  - Planned expansion to a new region by the platform team.
references:
  - https://docs.aws.amazon.com/accounts/latest/reference/API_EnableRegion.html
  - https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html
  - https://attack.mitre.org/techniques/T1535/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'account.amazonaws.com'"
    reason: >-
      EnableRegion is an operation of the Account Management API only per the
      AWS SDK service models (botocore 1.43), so eventname = 'EnableRegion'
      already implies eventsource account.amazonaws.com.
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
    coalesce(
        json_extract_scalar(requestparameters, '$.RegionName'),
        json_extract_scalar(requestparameters, '$.regionName')
    ) AS target,
    coalesce(
        json_extract_scalar(requestparameters, '$.AccountId'),
        json_extract_scalar(requestparameters, '$.accountId'),
        account_id
    ) AS target_account
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'account.amazonaws.com'
    AND eventname = 'EnableRegion'
    AND errorcode IS NULL
