/*
id: cloudtrail_iam_policy_version_default_changed
title: IAM managed policy default version changed outside infrastructure-as-code
description: >-
  A CreatePolicyVersion with setAsDefault true, or a SetDefaultPolicyVersion,
  by a principal that is not on the reviewed list of infrastructure-as-code
  pipelines (sql/lookups/iac_principals.yaml, matched by the user or by the
  role behind an assumed-role session), denied and failed attempts included.
  Changing which version of a customer managed policy is in force changes
  the rights of every user, group and role it is attached to, without an
  Attach or Put call that other rules watch: a principal allowed
  iam:CreatePolicyVersion on a policy attached to itself can write an
  administrator version and make it the default, and
  iam:SetDefaultPolicyVersion can bring back an older, broader version. A
  new version that is not made the default changes nothing and is not
  reported. Calls made by AWS services on the caller's behalf (invokedBy
  set, e.g. CloudFormation updating an AWS::IAM::ManagedPolicy) are not
  reported. AWS IoT policies also have versions (eventsource
  iot.amazonaws.com) and are not IAM policies.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.003
  - TA0003:T1098.003
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read policy_arn, event_name, error_code and the actor: which policy,
     did the change take effect, and who made it from where (source_ip,
     user_agent)?
  2. Compare the versions: `aws iam list-policy-versions --policy-arn
     <policy_arn>` and `aws iam get-policy-version --policy-arn <policy_arn>
     --version-id <vN>` for the new default and the previous one; look for
     "*" actions or resources, iam:* or sts:AssumeRole that were not there.
  3. List who the policy is attached to (`aws iam
     list-entities-for-policy --policy-arn <policy_arn>`): is the actor one
     of them (self-escalation)?
  4. If unexplained: set the previous version back as default (`aws iam
     set-default-policy-version`), delete the new version, contain the actor
     and open an incident; a pipeline that manages policies belongs in
     sql/lookups/iac_principals.yaml.
false_positives:
  - Administrators rolling a policy back by hand during an outage.
  - A policy-management pipeline not yet listed in
    sql/lookups/iac_principals.yaml.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_SetDefaultPolicyVersion.html
  - https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
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
    json_extract_scalar(requestparameters, '$.policyArn') AS policy_arn,
    coalesce(
        json_extract_scalar(requestparameters, '$.versionId'),
        json_extract_scalar(responseelements, '$.policyVersion.versionId')
    ) AS version_id
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND (
        eventname = 'SetDefaultPolicyVersion'
        OR (
            eventname = 'CreatePolicyVersion'
            AND lower(json_extract_scalar(requestparameters, '$.setAsDefault')) = 'true'
        )
    )
    AND useridentity.invokedby IS NULL
    -- The role behind a session, or the user; a caller with neither ARN gives NULL: not reported.
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
