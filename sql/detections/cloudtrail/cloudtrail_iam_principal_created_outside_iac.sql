/*
id: cloudtrail_iam_principal_created_outside_iac
title: IAM user or role created outside infrastructure-as-code
description: >-
  A CreateUser or CreateRole by a principal that is not on the reviewed
  list of infrastructure-as-code pipelines (sql/lookups/iac_principals.yaml,
  matched by the user or by the role behind an assumed-role session),
  denied and failed attempts included. Where identities are managed as
  code, a user or role created by hand (a console session, an
  administrator's key, root) is either drift or persistence: a backdoor
  user with its own keys, or a role trusting an outside account. The
  attempt is the signal: a stolen key probing whether it may create
  users. Calls made by AWS services on a principal's behalf
  (CloudFormation creating a stack's role, IAM Identity Center
  provisioning permission-set roles; recorded with the service's name as
  source address) are not reported, nor is CreateServiceLinkedRole, which
  AWS services trigger routinely. Keys and console passwords minted for
  existing users (CreateAccessKey, CreateLoginProfile) are reported by
  cloudtrail_access_key_created_for_other_user and
  cloudtrail_login_profile_changed_for_other_user whoever calls, and
  denied ones by cloudtrail_sensitive_api_denied; a user rotating their
  own key is routine, so they are not repeated here.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1136.003
  - TA0003:T1098
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, new_principal, error_code and the actor: who
     created which user or role, from where, and did it succeed?
  2. Inspect what was created: `aws iam get-user --user-name
     <new_principal>` and `aws iam list-access-keys`, or `aws iam get-role
     --role-name <new_principal>` (its trust policy: which accounts or
     services may assume it) and its attached policies.
  3. Ask the actor's team: an identity created by hand belongs in the IaC
     repository (import it) or is removed; a new pipeline role belongs in
     sql/lookups/iac_principals.yaml, a reviewed change.
  4. If unexplained: delete the user's keys and login profile or the
     role, contain the actor, and look for use of the new identity since
     event_time (`mamori search <new_principal>`).
false_positives:
  - Break-glass administrators creating an identity during an incident.
  - Sandbox accounts where engineers create roles by hand (suppress the
    accounts, not the rule).
  - A new IaC pipeline before its role is added to
    sql/lookups/iac_principals.yaml.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html
  - https://attack.mitre.org/techniques/T1136/003/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.userName'),
        json_extract_scalar(requestparameters, '$.roleName')
    ) AS new_principal
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN ('CreateUser', 'CreateRole')
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
    -- The role behind a session (the session name changes every run), or the user. A caller with neither ARN
    -- gives NULL, and NOT contains(..., NULL) is NULL on both engines: not reported.
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
