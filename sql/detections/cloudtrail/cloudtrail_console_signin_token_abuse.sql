/*
id: cloudtrail_console_signin_token_abuse
title: Console sign-in token requested outside the AWS console flow
description: >-
  A successful signin GetSigninToken whose user agent is not the one of
  the IAM Identity Center / console federation service (Jersey/...).
  GetSigninToken turns temporary credentials into a console sign-in URL
  through the federation endpoint: tools such as aws-vault, Pacu or
  aws_consoler use it to pivot from stolen API keys (session or role
  credentials) into an interactive console session, which then escapes
  API-level monitoring and key revocation. Legitimate brokers (aws-vault,
  Granted, internal federation portals) also call it; they are recognised
  by their actor and user agent during triage.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0008:T1550.001
  - TA0005:T1550.001
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Look at the session behind the token: actor, user_agent, source_ip and
     the access key (useridentity.accesskeyid) used to request it.
  2. Check whether the actor normally uses a federation broker (aws-vault,
     Granted, an internal portal) from this source_ip: SELECT event_time,
     sourceipaddress, useragent FROM cloudtrail WHERE eventname =
     'GetSigninToken' AND useridentity.arn = '<actor>' AND dt >= '<day-30>'.
  3. Review what the console session did after event_time (events from the
     same principal with sessioncredentialfromconsole = 'true').
  4. If unexplained: revoke the role's active sessions (IAM console: Revoke
     active sessions, or a deny policy on aws:TokenIssueTime), deactivate
     the keys the session came from, and contain the actor.
false_positives:
  - Federation brokers and CLI helpers that open the console from CLI
    credentials (aws-vault login, granted console, internal portals).
references:
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
  - https://attack.mitre.org/techniques/T1550/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'signin.amazonaws.com'"
    reason: >-
      GetSigninToken is not a service API (no botocore service model has an
      operation of that name; the SDK 'signin' service has only OAuth2 and
      console-authorization operations): it is the AWS Sign-In federation
      endpoint's non-API event, which CloudTrail records only with
      eventsource signin.amazonaws.com, so eventname = 'GetSigninToken'
      already implies it.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useridentity.accesskeyid AS access_key_id,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'signin.amazonaws.com'
    AND eventname = 'GetSigninToken'
    AND errorcode IS NULL
    AND coalesce(
        json_extract_scalar(responseelements, '$.GetSigninToken'), 'Success'
    ) = 'Success'
    AND NOT coalesce(useragent, '') LIKE 'Jersey/%'
