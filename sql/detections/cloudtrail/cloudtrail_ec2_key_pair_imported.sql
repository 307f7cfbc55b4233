/*
id: cloudtrail_ec2_key_pair_imported
title: EC2 SSH key pair imported outside infrastructure-as-code
description: >-
  An EC2 ImportKeyPair, denied and failed attempts included, by a
  principal that is not on the reviewed list of infrastructure-as-code
  pipelines (sql/lookups/iac_principals.yaml, matched by the user or by the
  role behind an assumed-role session). Importing a public key whose
  private half the caller holds is the first step of launching (or
  relaunching from a snapshot) an instance they can SSH into, and of
  replacing a key pair name that launch templates refer to. Lightsail's
  ImportKeyPair (eventsource lightsail.amazonaws.com) is another service
  and is not reported, nor are calls made by AWS services on the caller's
  behalf (invokedBy set, e.g. CloudFormation creating an AWS::EC2::KeyPair
  from key material).
severity: low
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098.004
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read key_name, region, error_code and the actor.
  2. Look for launches with the key since: SELECT event_time, actor,
     requestparameters FROM cloudtrail WHERE eventname = 'RunInstances'
     AND requestparameters LIKE '%<key_name>%' AND dt >= '<day>'.
  3. Ask the actor's team; key pairs for fleets belong in the launch
     templates' code.
  4. If unexplained: `aws ec2 delete-key-pair --key-name <key_name>`,
     terminate instances launched with it after preserving evidence,
     contain the actor.
false_positives:
  - Engineers importing their own key to reach a sandbox instance.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportKeyPair.html
  - https://attack.mitre.org/techniques/T1098/004/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    awsregion AS region,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.keyName') AS key_name
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'ImportKeyPair'
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
