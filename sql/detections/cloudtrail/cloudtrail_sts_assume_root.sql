/*
id: cloudtrail_sts_assume_root
title: Root session of a member account requested (sts:AssumeRoot)
description: >-
  An AssumeRoot call, denied and failed attempts included, for any task
  other than auditing the root user's credentials. AssumeRoot lets a
  principal of the organization's management account (or a delegated
  administrator) open a short root session in a member account, scoped by
  a task policy: IAMCreateRootUserPassword gives the member account's root
  user a console password (a way to take the account over),
  IAMDeleteRootUserCredentials removes root's password, keys and MFA, and
  S3UnlockBucketPolicy and SQSUnlockQueuePolicy delete a resource policy
  that locks everyone else out. These are break-glass operations done a
  few times a year; the read-only IAMAuditRootUserCredentials task is
  routine posture checking and is not reported. What the root session does
  afterwards is reported by cloudtrail_root_activity in the member account.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1548.005
  - TA0003:T1098
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read target_account, task_policy, error_code and the actor: which
     member account's root was requested, for which task, by whom.
  2. Ask the actor's team for the ticket: root tasks are planned changes
     (recovering a locked bucket, removing root credentials of a new
     account).
  3. Follow the root session in the member account: SELECT event_time,
     eventname, sourceipaddress, errorcode FROM cloudtrail WHERE
     account_id = '<target_account>' AND useridentity.type = 'Root' AND
     dt >= '<day>' ORDER BY event_time.
  4. If unexplained: after IAMCreateRootUserPassword, reset and delete the
     root password again with IAMDeleteRootUserCredentials from a trusted
     principal; restore an unlocked policy; contain the actor (its session
     in the management account) and open an incident.
false_positives:
  - Planned centralized root access tasks by the cloud platform team.
references:
  - https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user-privileged-task.html
  - https://www.elastic.co/security-labs/exploring-aws-sts-assumeroot
  - https://attack.mitre.org/techniques/T1548/005/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'sts.amazonaws.com'"
    reason: >-
      AssumeRoot is an operation of STS only: no other service model in
      botocore 1.43 has an operation of that name, so eventname =
      'AssumeRoot' already implies eventsource sts.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.targetPrincipal') AS target_account,
    json_extract_scalar(requestparameters, '$.taskPolicyArn.arn') AS task_policy
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'sts.amazonaws.com'
    AND eventname = 'AssumeRoot'
    -- NULL (no task policy in the record) is not the audit task: reported.
    AND coalesce(json_extract_scalar(requestparameters, '$.taskPolicyArn.arn'), '')
    NOT LIKE '%:policy/root-task/IAMAuditRootUserCredentials'
