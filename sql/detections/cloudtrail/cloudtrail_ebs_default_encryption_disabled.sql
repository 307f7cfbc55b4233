/*
id: cloudtrail_ebs_default_encryption_disabled
title: EBS encryption by default disabled
description: >-
  A successful DisableEbsEncryptionByDefault: new EBS volumes (and copies of
  unencrypted snapshots) in this account and region are no longer encrypted
  automatically. Unencrypted volumes and snapshots can be shared with other
  accounts, which encrypted-by-default volumes with the account's KMS key
  cannot without key access, so this weakens data protection and is a
  preparation step for exfiltration through shared snapshots.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1565.001
  - TA0005:T1562.001
dedup:
  keys: [account_id, aws_region]
  period: 1h
threshold: 1
runbook: |-
  1. Confirm the setting: `aws ec2 get-ebs-encryption-by-default --region
     <aws_region>`.
  2. Ask the actor's team why it was disabled; security baselines (Control
     Tower, Config rule ec2-ebs-encryption-by-default) should keep it on.
  3. Look for unencrypted volumes and snapshots created since event_time and
     for snapshot sharing: SELECT event_time, eventname, requestparameters
     FROM cloudtrail WHERE eventname IN ('CreateVolume', 'CreateSnapshot',
     'ModifySnapshotAttribute', 'CopySnapshot') AND account_id =
     '<account_id>' AND dt >= '<day>' ORDER BY event_time.
  4. Re-enable: `aws ec2 enable-ebs-encryption-by-default --region
     <aws_region>`; contain the actor if the change was not authorised.
false_positives:
  - Legacy workloads that need unencrypted volumes (rare; should be an
    approved exception).
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableEbsEncryptionByDefault.html
  - https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html
  - https://attack.mitre.org/techniques/T1565/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      DisableEbsEncryptionByDefault is an operation of EC2 only (EBS default
      encryption is an EC2 account attribute): no other service model in
      botocore 1.43 has an operation of that name, the EBS direct APIs
      included, so eventname = 'DisableEbsEncryptionByDefault' already
      implies eventsource ec2.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'DisableEbsEncryptionByDefault'
    AND errorcode IS NULL
