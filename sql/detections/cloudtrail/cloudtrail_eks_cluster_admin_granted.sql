/*
id: cloudtrail_eks_cluster_admin_granted
title: EKS cluster administrator access granted outside infrastructure-as-code
description: >-
  An AssociateAccessPolicy of the EKS access policy
  AmazonEKSClusterAdminPolicy or AmazonEKSAdminPolicy, denied and failed
  attempts included, by a principal that is not on the reviewed list of
  infrastructure-as-code pipelines (sql/lookups/iac_principals.yaml,
  matched by the user or by the role behind an assumed-role session). With
  EKS access entries, a principal allowed eks:CreateAccessEntry and
  eks:AssociateAccessPolicy can make any IAM role (its own, or one in
  another account) administrator of a Kubernetes cluster through the AWS
  API alone, without touching the cluster's aws-auth ConfigMap. Narrower
  access policies (AmazonEKSViewPolicy, AmazonEKSEditPolicy) and calls
  made by AWS services on the caller's behalf (invokedBy set, e.g.
  CloudFormation creating an AWS::EKS::AccessEntry) are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.006
  - TA0003:T1098.006
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read cluster_name, principal_arn, policy_arn, access_scope, error_code and
     the actor.
  2. Is principal_arn a role of the organization that should administer
     the cluster? `aws eks list-access-entries --cluster-name <cluster_name>`
     and `aws eks list-associated-access-policies`.
  3. Ask the platform team: cluster access belongs in the cluster's
     infrastructure code.
  4. If unexplained: `aws eks disassociate-access-policy` and `aws eks
     delete-access-entry`, review the cluster's audit log for the
     principal's actions, contain the actor.
false_positives:
  - Platform engineers granting themselves break-glass cluster access by
    hand during an incident.
  - A cluster pipeline not yet on sql/lookups/iac_principals.yaml.
references:
  - https://docs.aws.amazon.com/eks/latest/APIReference/API_AssociateAccessPolicy.html
  - https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html
  - https://attack.mitre.org/techniques/T1098/006/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'eks.amazonaws.com'"
    reason: >-
      AssociateAccessPolicy is an operation of EKS only: no other service
      model in botocore 1.43 has an operation of that name, so the
      eventname already implies eventsource eks.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.name') AS cluster_name,
    json_extract_scalar(requestparameters, '$.principalArn') AS principal_arn,
    json_extract_scalar(requestparameters, '$.policyArn') AS policy_arn,
    json_extract_scalar(requestparameters, '$.accessScope.type') AS access_scope
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'eks.amazonaws.com'
    AND eventname = 'AssociateAccessPolicy'
    AND regexp_like(
        json_extract_scalar(requestparameters, '$.policyArn'),
        ':cluster-access-policy/(AmazonEKSClusterAdminPolicy|AmazonEKSAdminPolicy)$'
    )
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
