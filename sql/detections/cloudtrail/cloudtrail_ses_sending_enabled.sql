/*
id: cloudtrail_ses_sending_enabled
title: SES sending enabled or production access requested
description: >-
  Amazon SES sending switched on for the account or region
  (UpdateAccountSendingEnabled with enabled true, or the SES v2
  PutAccountSendingAttributes with sendingEnabled true) or a request to
  leave the SES sandbox (PutAccountDetails, the production access request
  with a website and use case). Stolen AWS keys are sold and used for spam
  and phishing from the victim's verified domains: the abuser first
  checks the quota, then re-enables sending AWS paused for abuse or asks
  for production limits. Both calls are rare in an account's life. Denied
  and failed attempts are reported too. Reading quotas and statistics
  (GetSendQuota, GetAccount) and turning sending off are not reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1496
  - TA0042:T1585.002
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, request_parameters (the use case and website of a
     production request) and error_code.
  2. Check the account's SES state: `aws sesv2 get-account` (sending
     enabled, enforcement status, whether AWS paused sending for abuse) and
     the identities it may send from (`aws sesv2 list-email-identities`).
  3. Ask the team sending mail from the account (a new product launching
     email sends asks for production access once).
  4. If unexplained: turn sending off (`aws sesv2
     put-account-sending-attributes --no-sending-enabled`), contain the
     actor, and look for identities verified and SMTP credentials (IAM
     users with ses:SendRawEmail) created since event_time.
false_positives:
  - A product team moving an account out of the SES sandbox, or
    re-enabling sending after a bounce-rate pause was fixed.
references:
  - https://docs.aws.amazon.com/ses/latest/APIReference/API_UpdateAccountSendingEnabled.html
  - https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutAccountSendingAttributes.html
  - https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutAccountDetails.html
  - https://attack.mitre.org/techniques/T1496/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ses.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) UpdateAccountSendingEnabled
      is an operation of SES v1 only, PutAccountDetails of SES v2 only, and
      PutAccountSendingAttributes of SES v2 and the older Pinpoint Email API,
      all served by the SES endpoint (endpoint prefix email) and logged with
      eventsource ses.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    concat(account_id, ':', awsregion) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ses.amazonaws.com'
    AND (
        eventname = 'PutAccountDetails'
        OR (
            eventname = 'UpdateAccountSendingEnabled'
            AND regexp_like(
                coalesce(requestparameters, ''), '"enabled"\s*:\s*true'
            )
        )
        OR (
            eventname = 'PutAccountSendingAttributes'
            AND regexp_like(
                coalesce(requestparameters, ''), '"sendingEnabled"\s*:\s*true'
            )
        )
    )
