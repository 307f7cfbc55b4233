/*
id: cloudtrail_organizations_policy_removed
title: Organizations service control policy detached, deleted or disabled
description: >-
  An AWS Organizations policy taken off the organization: DetachPolicy
  (a service control policy or another organization policy removed from
  the root, an OU or an account), DeletePolicy, or DisablePolicyType
  (every policy of a type switched off for a root at once). SCPs are the
  guardrails that stop member accounts leaving the organization, disabling
  CloudTrail or GuardDuty and using unapproved regions; removing one is the
  step before doing what it denied. Denied and failed attempts are reported
  too: a member account's key or a stolen one trying it is the signal.
  Creating, attaching and updating policies are not reported, nor IAM's own
  DeletePolicy (a managed policy), nor calls made by an AWS service for a
  principal (recorded with the service's name as source address).
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
  - TA0005:T1484
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, target (the policy) and target_entity (the root, OU
     or account it was detached from), and error_code.
  2. Check the policy and what it denied: `aws organizations
     describe-policy --policy-id <target>` (if it still exists) and
     `aws organizations list-policies-for-target --target-id
     <target_entity> --filter SERVICE_CONTROL_POLICY`.
  3. Ask the cloud platform team for the change (an SCP refactor applied by
     its pipeline detaches and re-attaches policies).
  4. If unplanned: re-attach the policy, contain the actor, and look for
     what the policy denied in the accounts it covered since event_time
     (LeaveOrganization, StopLogging, DeleteDetector, region enablement).
false_positives:
  - An SCP refactor applied by the platform team's pipeline (detach old,
    attach new).
  - An account moved between OUs whose policies are replaced.
references:
  - https://docs.aws.amazon.com/organizations/latest/APIReference/API_DetachPolicy.html
  - https://docs.aws.amazon.com/organizations/latest/APIReference/API_DeletePolicy.html
  - https://docs.aws.amazon.com/organizations/latest/APIReference/API_DisablePolicyType.html
  - https://attack.mitre.org/techniques/T1562/001/
  - https://attack.mitre.org/techniques/T1484/
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
    coalesce(
        json_extract_scalar(requestparameters, '$.policyId'),
        json_extract_scalar(requestparameters, '$.policyType')
    ) AS target,
    coalesce(
        json_extract_scalar(requestparameters, '$.targetId'),
        json_extract_scalar(requestparameters, '$.rootId')
    ) AS target_entity
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'organizations.amazonaws.com'
    AND eventname IN ('DetachPolicy', 'DeletePolicy', 'DisablePolicyType')
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
