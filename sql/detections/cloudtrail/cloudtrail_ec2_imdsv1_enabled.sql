/*
id: cloudtrail_ec2_imdsv1_enabled
title: Instance metadata service v1 re-enabled on an instance
description: >-
  A principal called ModifyInstanceMetadataOptions with HttpTokens
  optional on a running instance: the metadata service then answers plain
  GET requests again (IMDSv1), so a server-side request forgery in any
  application on the instance can read the instance role's credentials
  without the session token IMDSv2 requires. Turning the protection off is
  the preparation for that theft, or a foothold's way to make it easy.
  Denied attempts count too: trying is the signal. Changes made by an AWS
  service on the caller's behalf (invokedBy) and by the reviewed
  infrastructure-as-code pipelines (lookup iac_principals) are not
  reported; an application that still needs IMDSv1 belongs in code.
  Setting HttpTokens required, and changes to the hop limit or endpoint
  alone, are not reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
  - TA0006:T1552.005
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Check the instance (target) now: `aws ec2 describe-instances
     --instance-ids <target> --region <aws_region> --query
     'Reservations[].Instances[].[MetadataOptions,IamInstanceProfile]'`.
     Which role do its credentials carry, and does it serve HTTP?
  2. Ask the instance's owner for the change (a legacy agent that needs
     IMDSv1 is set in its launch template, by code, with a ticket).
  3. If unexplained: set it back (`aws ec2 modify-instance-metadata-options
     --instance-id <target> --http-tokens required`), then review the
     instance role's calls since event_time
     (cloudtrail_ec2_instance_credentials_off_instance reports its
     credentials used from outside EC2) and contain the actor.
  4. Require IMDSv2 account-wide (ec2 modify-instance-metadata-defaults)
     and deny ec2:ModifyInstanceMetadataOptions with
     ec2:MetadataHttpTokens optional in an SCP.
false_positives:
  - An engineer re-enabling IMDSv1 by hand for a legacy agent during an
    incident or migration.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
  - https://github.com/elastic/detection-rules/blob/main/rules/integrations/aws/defense_evasion_ec2_imdsv1_enabled.toml
  - https://attack.mitre.org/techniques/T1552/005/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      Per botocore 1.43's service models ModifyInstanceMetadataOptions is an
      operation of EC2 only, and CloudTrail logs an EC2 query operation's
      parameters under a key named after it
      (ModifyInstanceMetadataOptionsRequest), which the HttpTokens condition
      reads; no other service's event carries that key.
  - mutant: "drop main.where: eventname = 'ModifyInstanceMetadataOptions'"
    reason: >-
      The HttpTokens condition reads the ModifyInstanceMetadataOptionsRequest
      key, which CloudTrail writes only for that operation (another EC2
      operation's parameters sit under its own <Operation>Request key).
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.ModifyInstanceMetadataOptionsRequest.InstanceId') AS target,
    json_extract_scalar(requestparameters, '$.ModifyInstanceMetadataOptionsRequest.HttpTokens') AS http_tokens
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'ModifyInstanceMetadataOptions'
    AND json_extract_scalar(
        requestparameters, '$.ModifyInstanceMetadataOptionsRequest.HttpTokens'
    ) = 'optional'
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, '')
    )
