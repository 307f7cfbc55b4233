/*
id: cloudtrail_sensitive_api_denied
title: Repeated denied attempts at one sensitive API by one principal
description: >-
  One principal was denied (errorCode AccessDenied, AccessDeniedException or
  *UnauthorizedOperation) at least 3 times within 60 minutes on the same API
  from a reviewed list of APIs that hand out credentials or secrets, or
  change who can act as whom: EC2 GetPasswordData, DescribeInstanceAttribute
  for userData, Secrets Manager GetSecretValue and BatchGetSecretValue, IAM
  CreateAccessKey, CreateLoginProfile, UpdateLoginProfile, PutUserPolicy,
  AttachUserPolicy, AddUserToGroup and UpdateAssumeRolePolicy, STS
  GetSessionToken and GetFederationToken, EC2 Instance Connect
  SendSSHPublicKey and SendSerialConsoleSSHPublicKey; a single denied
  Organizations LeaveOrganization is enough. Attackers probe what a stolen
  key can reach, and a focused probe of one valuable API (29 denied
  GetPasswordData) never reaches the breadth that
  cloudtrail_access_denied_volume needs. For GetSecretValue an attempt is a
  distinct secret: an application retrying the one secret it may not read
  is one attempt, probing reads several. The 60 minutes are a sliding
  period counted as in cloudtrail_access_denied_volume (each run reads the
  two hours before its window), and a probe is reported once, at the
  attempt that brings it to the limit, when the principal's attempts at that
  API were not at the limit in the hour before; a probe going on for hours
  stays one hit. Attempts are counted per principal (a role's sessions
  together, an SSO session by its person, users and root by their ARN), so
  spreading a probe over sessions does not hide it; actor is the session of
  the attempt that reported it. AWS service principals are ignored.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1552
  - TA0006:T1555.006
  - TA0003:T1098.001
  - TA0005:T1666
dedup:
  keys: [account_id, principal, event_name]
  period: 1d
threshold: 1
runbook: |-
  1. List the principal's calls around the probe: SELECT event_time,
     eventsource, eventname, errorcode, requestparameters,
     sourceipaddress, useragent, useridentity.arn FROM cloudtrail WHERE
     (useridentity.arn = '<principal>' OR
     useridentity.sessioncontext.sessionissuer.arn = '<principal>') AND dt =
     '<day>' ORDER BY event_time. Many targets (instances,
     secrets, users), an unusual source_ip or a CLI/SDK user agent on a
     workload role mean probing; the same target retried by a known
     application means a missing permission.
  2. Check what succeeded in the same period: did the principal read other
     secrets, create keys, or assume roles (cloudtrail_access_denied_volume,
     cloudtrail_secrets_manager_burst)?
  3. Ask the principal's owner: a deployment that lacks one permission
     explains repeated denials of one call from its usual address.
  4. If unexplained: deactivate the access key or revoke the role's
     sessions (deny on aws:TokenIssueTime), find where the credentials
     leaked, and check the probed resources (rotate the Windows passwords or
     secrets it aimed at if any read succeeded elsewhere).
false_positives:
  - Automation deployed without one permission it needs (a CSPM scanner
    reading userData under an SCP, a pipeline attaching user policies),
    retrying every run; suppress that principal and API with an owner and an
    expiry while the permission is fixed.
  - Administrators trying a console action they are not allowed (Get
    Windows password, Connect with EC2 Instance Connect) a few times.
references:
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetPasswordData.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html
  - https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
  - https://attack.mitre.org/techniques/T1552/
owner: security-engineering
equivalent_mutants:
  - mutant: "before widen: 2h -> 4h"
    reason: >-
      An attempt of the window is compared with the principal's attempts at
      the limit in the hour before it, each counted over its own hour: two
      hours before the window start is the earliest attempt either can
      involve, so reading further back changes no hit.
*/
WITH denials AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        sourceipaddress,
        useragent,
        eventname,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        -- What one attempt is: a distinct secret for GetSecretValue (an application retrying the one secret it
        -- may not read is not probing), each call for the other APIs.
        CASE
            WHEN eventname = 'GetSecretValue'
                THEN json_extract_scalar(requestparameters, '$.secretId')
            ELSE eventid
        END AS attempt
    FROM cloudtrail
    WHERE
        {{ window(before='2h') }}
        AND (
            errorcode IN ('AccessDenied', 'AccessDeniedException')
            OR errorcode LIKE '%UnauthorizedOperation'
        )
        AND coalesce(useridentity.type, '') <> 'AWSService'
        -- The reviewed list, by service and API (several names exist in more than one service).
        AND eventsource || ':' || eventname IN (
            'ec2.amazonaws.com:GetPasswordData',
            'ec2.amazonaws.com:DescribeInstanceAttribute',
            'secretsmanager.amazonaws.com:GetSecretValue',
            'secretsmanager.amazonaws.com:BatchGetSecretValue',
            'organizations.amazonaws.com:LeaveOrganization',
            'iam.amazonaws.com:CreateAccessKey',
            'iam.amazonaws.com:CreateLoginProfile',
            'iam.amazonaws.com:UpdateLoginProfile',
            'iam.amazonaws.com:PutUserPolicy',
            'iam.amazonaws.com:AttachUserPolicy',
            'iam.amazonaws.com:AddUserToGroup',
            'iam.amazonaws.com:UpdateAssumeRolePolicy',
            'sts.amazonaws.com:GetSessionToken',
            'sts.amazonaws.com:GetFederationToken',
            'ec2-instance-connect.amazonaws.com:SendSSHPublicKey',
            'ec2-instance-connect.amazonaws.com:SendSerialConsoleSSHPublicKey'
        )
        -- Only the user data among an instance's attributes holds secrets (bootstrap scripts, tokens).
        AND (
            eventname <> 'DescribeInstanceAttribute'
            OR json_extract_scalar(requestparameters, '$.attribute') = 'userData'
        )
),

-- Each denial with the principal's attempts at the same API in the hour up to it (same second included).
last_hour AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        actor,
        principal,
        sourceipaddress,
        useragent,
        eventname,
        eventid,
        min(event_time) OVER (
            PARTITION BY account_id, principal, eventname ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS first_event_time,
        count(*) OVER (
            PARTITION BY account_id, principal, eventname ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS denied_calls,
        approx_distinct(attempt) OVER (
            PARTITION BY account_id, principal, eventname ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS attempts,
        approx_distinct(sourceipaddress) OVER (
            PARTITION BY account_id, principal, eventname ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS source_ip_count
    FROM denials
),

-- The attempts at the limit: three, or one for leaving the organization (nobody tries that by accident).
over_limit AS (
    SELECT *
    FROM last_hour
    WHERE
        attempts >= 3
        OR eventname = 'LeaveOrganization'
),

-- A probe is reported by its first attempt at the limit: the one with no other attempt of the principal at that
-- API at the limit in the hour before. So it is one hit whichever runs it spans, and the run holding that
-- attempt owns it.
probes AS (
    SELECT
        *,
        lag(event_time) OVER (
            PARTITION BY account_id, principal, eventname ORDER BY event_time, eventid
        ) AS previous_over_limit
    FROM over_limit
)

SELECT
    event_time,
    account_id,
    actor,
    principal,
    sourceipaddress AS source_ip,
    useragent AS user_agent,
    eventname AS event_name,
    eventid AS event_id,
    first_event_time,
    denied_calls,
    attempts,
    source_ip_count
FROM probes
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
