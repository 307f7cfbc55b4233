/*
id: cloudtrail_iam_user_added_to_privileged_group
title: IAM user added to an administrators group, or adding itself to a group
description: >-
  An AddUserToGroup, denied and failed attempts included, that either puts
  a user in a group whose name says it is for administrators ("admin"
  anywhere in the name, any case), or is made by an IAM user adding itself
  to any group. Joining a group inherits every policy attached to it, so a
  principal allowed iam:AddUserToGroup can escalate to the rights of the
  strongest group without touching a policy; adding oneself is never how
  access is granted by review. Pipelines on the reviewed list
  sql/lookups/iac_principals.yaml (matched by the user or the role behind a
  session) and calls made by AWS services on the caller's behalf (invokedBy
  set, e.g. CloudFormation's AWS::IAM::UserToGroupAddition) are not
  reported. Group membership of other groups by other principals is
  routine onboarding and is not reported; a group's real rights are not in
  the event, so a privileged group with a neutral name is only caught
  through its policies (cloudtrail_admin_policy_attached).
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.003
  - TA0003:T1098.007
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read target_user, group_name, error_code and the actor: who was put
     in which group, by whom, and did it succeed?
  2. Check what the group grants: `aws iam list-attached-group-policies
     --group-name <group_name>` and `aws iam list-group-policies`.
  3. Ask the actor's team for the access request; membership of an admin
     group is normally granted through the identity pipeline.
  4. If unexplained: `aws iam remove-user-from-group --group-name
     <group_name> --user-name <target_user>`, contain the actor and the
     target user (keys, console password), review what the user did since
     event_time (`mamori search <target_user>`).
false_positives:
  - Administrators onboarding a new administrator by hand.
  - An identity pipeline not yet listed in sql/lookups/iac_principals.yaml.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddUserToGroup.html
  - https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      AddUserToGroup is an operation of IAM only: no other service model in
      botocore 1.43 has an operation of that name, so eventname =
      'AddUserToGroup' already implies eventsource iam.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.userName') AS target_user,
    json_extract_scalar(requestparameters, '$.groupName') AS group_name
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname = 'AddUserToGroup'
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
    AND (
        regexp_like(lower(json_extract_scalar(requestparameters, '$.groupName')), 'admin')
        OR (
            useridentity.type = 'IAMUser'
            AND lower(json_extract_scalar(requestparameters, '$.userName')) = lower(useridentity.username)
        )
    )
