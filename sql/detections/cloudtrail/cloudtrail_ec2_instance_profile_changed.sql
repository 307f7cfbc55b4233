/*
id: cloudtrail_ec2_instance_profile_changed
title: IAM instance profile attached to or replaced on a running instance outside infrastructure-as-code
description: >-
  An AssociateIamInstanceProfile or ReplaceIamInstanceProfileAssociation,
  denied and failed attempts included, by a principal that is not on the
  reviewed list of infrastructure-as-code pipelines
  (sql/lookups/iac_principals.yaml, matched by the user or by the role
  behind an assumed-role session). Giving an existing instance a stronger
  role is a privilege escalation path (iam:PassRole plus one EC2 call):
  whoever can run code on the instance (SSM, user data, a web shell) then
  reads that role's credentials from the instance metadata service.
  Instances launched with a profile (RunInstances) are not reported, and
  neither are calls AWS services make on the caller's behalf (invokedBy
  set, e.g. Systems Manager Quick Setup attaching its default profile).
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1098.003
  - TA0006:T1552.005
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read instance_id (or association_id for a replacement),
     instance_profile, error_code and the actor.
  2. Check what the profile's role may do: `aws iam get-instance-profile
     --instance-profile-name <instance_profile>`, then its attached and
     inline policies; compare with the instance's previous profile (`aws
     ec2 describe-iam-instance-profile-associations`).
  3. Look for credential use from the instance's role since event_time:
     SELECT event_time, eventname, sourceipaddress FROM cloudtrail WHERE
     useridentity.sessioncontext.sessionissuer.arn LIKE '%/<role>' AND
     dt >= '<day>' ORDER BY event_time.
  4. If unexplained: restore the previous profile or disassociate (`aws ec2
     disassociate-iam-instance-profile`), revoke the role's sessions,
     contain the actor.
false_positives:
  - Operators fixing a missing profile on a running instance by hand.
  - A deployment pipeline not yet on sql/lookups/iac_principals.yaml.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AssociateIamInstanceProfile.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceIamInstanceProfileAssociation.html
  - https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/
  - https://attack.mitre.org/techniques/T1098/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      AssociateIamInstanceProfile and ReplaceIamInstanceProfileAssociation
      are operations of EC2 only: no other service model in botocore 1.43
      has an operation of either name, so the eventname list already
      implies eventsource ec2.amazonaws.com.
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
    json_extract_scalar(
        requestparameters, '$.AssociateIamInstanceProfileRequest.InstanceId'
    ) AS instance_id,
    json_extract_scalar(
        requestparameters, '$.ReplaceIamInstanceProfileAssociationRequest.AssociationId'
    ) AS association_id,
    coalesce(
        json_extract_scalar(
            requestparameters, '$.AssociateIamInstanceProfileRequest.IamInstanceProfile.Name'
        ),
        json_extract_scalar(
            requestparameters, '$.AssociateIamInstanceProfileRequest.IamInstanceProfile.Arn'
        ),
        json_extract_scalar(
            requestparameters, '$.ReplaceIamInstanceProfileAssociationRequest.IamInstanceProfile.Name'
        ),
        json_extract_scalar(
            requestparameters, '$.ReplaceIamInstanceProfileAssociationRequest.IamInstanceProfile.Arn'
        )
    ) AS instance_profile
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname IN ('AssociateIamInstanceProfile', 'ReplaceIamInstanceProfileAssociation')
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
