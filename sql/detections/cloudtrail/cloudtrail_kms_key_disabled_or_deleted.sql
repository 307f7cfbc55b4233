/*
id: cloudtrail_kms_key_disabled_or_deleted
title: KMS key disabled or scheduled for deletion
description: >-
  A customer managed KMS key was disabled (DisableKey) or scheduled for
  deletion (ScheduleKeyDeletion, 7 to 30 days pending). Data encrypted under
  the key becomes unreadable while it is disabled and is lost for good once
  the key is deleted: attackers use this to destroy data or to hold it to
  ransom, and to break encrypted logging. Only successful calls are
  reported; the key's own deletion at the end of the waiting period is a
  service event (DeleteKey) and is not matched.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1485
  - TA0040:T1486
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the key and its use: `aws kms describe-key --key-id <target>
     --region <aws_region>` (KeyState, DeletionDate, Description), its
     aliases (`aws kms list-aliases --key-id <target>`) and grants; find
     which resources use it (S3 bucket encryption, EBS, RDS, Secrets
     Manager, CloudTrail, CloudWatch Logs).
  2. Ask the actor's team for the change ticket (key retirement is planned
     and announced; deletion of a key still in use is not).
  3. If unexplained, undo it while it is still possible: `aws kms
     cancel-key-deletion --key-id <target>` then `aws kms enable-key
     --key-id <target>`; contain the actor and review its other activity
     since event_time for further destruction.
  4. Add an SCP or key policy denying kms:ScheduleKeyDeletion and
     kms:DisableKey outside the key administration role.
false_positives:
  - Planned key retirement or infrastructure-as-code teardown of test
    stacks (CloudFormation/Terraform role, known user agent).
  - Temporary disabling during a key rotation or incident drill.
references:
  - https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html
  - https://docs.aws.amazon.com/kms/latest/developerguide/enabling-keys.html
  - https://docs.aws.amazon.com/kms/latest/developerguide/ct-schedule-key-deletion.html
  - https://attack.mitre.org/techniques/T1485/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'kms.amazonaws.com'"
    reason: >-
      DisableKey and ScheduleKeyDeletion are AWS KMS API actions only: no
      other AWS service has an operation of either name (checked against every
      botocore service model; Payment Cryptography uses DeleteKey /
      StopKeyUsage), so the eventname IN (...) conjunct already implies
      eventSource kms.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.keyId') AS target,
    json_extract_scalar(responseelements, '$.deletionDate') AS deletion_date
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'kms.amazonaws.com'
    AND eventname IN ('DisableKey', 'ScheduleKeyDeletion')
    AND errorcode IS NULL
